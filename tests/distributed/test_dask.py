"""Dask: 12 sources (2 corrupt) into an S3 lake on a LocalCluster of 2 worker processes, re-run, status."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from npc_lake.cli import main
from npc_lake.distributed.status import ingest_status
from npc_lake.lake import Lake
from npc_lake.lake.maintenance import check_lake

from lake_helpers import session_counts


@pytest.mark.slow
def test_dask_ingest_into_s3_records_failures_and_reruns_to_nothing_new(  # type: ignore[no-untyped-def]
        s3_env, corpus: tuple[list[Path], list[Path]]) -> None:
    good, corrupt = corpus
    uri = f"s3://lake/{uuid.uuid4().hex}"
    sources = [str(p) for p in [*good, *corrupt]]
    runner = CliRunner()
    first = runner.invoke(main, ["ingest", *sources, "--lake", uri, "--executor", "dask", "--jobs", "2"])
    assert first.exit_code == 1, first.output
    assert "10 of 12 sources ingested" in first.output and "2 failed" in first.output
    lake = Lake.open(uri)
    counts = session_counts(lake)
    assert len(counts["sessions"]) == 10 and set(counts["sessions"].values()) == {1}
    assert check_lake(lake).is_empty()  # every session's rows exactly once, in every table
    status = ingest_status(lake)
    failed = status.filter(status["status"] == "failed")
    assert sorted(Path(s).name for s in failed["source_uri"]) == sorted(p.name for p in corrupt)
    assert failed["error_message"].str.contains("corrupt or truncated").all()
    assert set(status.filter(status["status"] == "ok")["worker"].str.slice(0, 16)) <= {"tcp://127.0.0.1:"}
    versions = {name: lake.version(name) for name in ("units", "spike_times", "ingest_log")}
    again = runner.invoke(main, ["ingest", *sources, "--lake", uri, "--executor", "dask", "--jobs", "2"])
    assert again.exit_code == 1 and "2 failed" in again.output
    assert {name: lake.version(name) for name in versions} == versions  # nothing new was written
    assert set(ingest_status(lake)["status"]) == {"unchanged", "failed"}
    shown = runner.invoke(main, ["status", "--lake", uri, "--failed", "--format", "csv"])
    assert shown.exit_code == 1 and corrupt[0].name in shown.output and "SourceError" in shown.output
