"""Job files: the shipped etl/ files parse; bad ones are refused naming the key; run-job runs one."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from npc_lake.cli import main
from npc_lake.distributed.executors import EXECUTORS
from npc_lake.distributed.jobfile import load_job_file
from npc_lake.errors import SourceError
from npc_lake.lake import Lake
from npc_lake.lake.snapshots import list_tags

ETL = Path(__file__).resolve().parents[2] / "etl"


def test_the_shipped_job_files_are_valid() -> None:
    files = sorted(ETL.glob("*.toml"))
    assert len(files) >= 2
    for path in files:
        job = load_job_file(path)
        assert job.executor in EXECUTORS and job.sources and job.lake


@pytest.mark.parametrize(("text", "reason"), [
    ("[ingest]\nlake = 'x'\n", "needs 'sources'"),
    ("[ingest]\nlake = 'x'\nsources = ['a.nwb']\nworkers = 'two'\n", "workers = 'two' is not a int"),
    ("[ingest]\nlake = 'x'\nsources = ['a.nwb']\nexecuter = 'dask'\n", "unknown key 'executer'"),
    ("[ingest\n", "cannot read the job file"),
    ("lake = 'x'\n", "needs an \\[ingest\\] table"),
])
def test_a_bad_job_file_is_refused_naming_the_problem(tmp_path: Path, text: str, reason: str) -> None:
    path = tmp_path / "job.toml"
    path.write_text(text)
    with pytest.raises(SourceError, match=reason):
        load_job_file(path)


def test_run_job_ingests_what_the_file_names_and_tags_it(corpus: tuple[list[Path], list[Path]],
                                                         tmp_path: Path) -> None:
    good, _ = corpus
    listing = tmp_path / "sessions.txt"
    listing.write_text("# two sessions\n" + "\n".join(str(p) for p in good[:2]) + "\n")
    job = tmp_path / "job.toml"
    job.write_text(f'[ingest]\nlake = "lake"\nsources = ["{listing.name}"]\nexecutor = "process"\nworkers = 2\n'
                   'tag = "nightly-1"\ndescription = "two sessions"\n')
    result = CliRunner().invoke(main, ["run-job", str(job)])
    assert result.exit_code == 0, result.output
    lake = Lake.open(tmp_path / "lake")  # relative to the job file
    assert lake.scan("sessions").collect().height == 2
    assert list_tags(lake)["tag"].to_list() == ["nightly-1"]
