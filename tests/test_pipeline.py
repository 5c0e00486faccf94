"""Ingest end to end through the CLI: idempotent re-ingest, replacing one session, refusing bad files."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import h5py
import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner

from npc_lake.cli import main
from npc_lake.distributed.status import ingest_status
from npc_lake.export.nwbfile import write_nwbfile
from npc_lake.lake import Lake
from npc_lake.schema import SESSION_TABLES
from npc_lake.testing import synth_session, write_synthetic_nwb

from conftest import lake_bytes

SIZE = {"n_units": 16, "duration_s": 240.0, "seed": 11}


@pytest.fixture(scope="module")
def nwb_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return write_synthetic_nwb(tmp_path_factory.mktemp("nwb"), n_sessions=3, **SIZE)  # type: ignore[arg-type]


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def state(lake: Lake) -> dict[str, tuple[int | None, int]]:
    return {name: (lake.version(name), lake.scan(name).select(pl.len()).collect().item())
            for name in (*SESSION_TABLES, "ingest_log")}


def session_rows(lake: Lake, table: str, session_id: str) -> pl.DataFrame:
    frame = lake.scan(table).filter(pl.col("session_id") == session_id).collect()
    return frame.sort(frame.columns[:3]) if table != "spike_times" else frame.sort("unit_id", "spike_time")


def test_second_ingest_changes_nothing(nwb_files: list[Path], tmp_path: Path) -> None:
    lake_dir = tmp_path / "lake"
    code, out = run("ingest", *map(str, nwb_files), "--lake", str(lake_dir))
    assert code == 0, out
    lake = Lake.open(lake_dir)
    first = state(lake)
    assert first["units"][1] == 3 * SIZE["n_units"]
    code, out = run("ingest", *map(str, nwb_files), "--lake", str(lake_dir))
    assert code == 0, out
    assert out.count("unchanged, nothing written") == 3
    assert state(lake) == first
    # reading the files again (not trusting their digest) still writes nothing
    code, out = run("ingest", "--force", *map(str, nwb_files), "--lake", str(lake_dir))
    assert code == 0 and state(lake) == first, out


def test_changed_file_replaces_that_session_only(nwb_files: list[Path], tmp_path: Path) -> None:
    files = [Path(shutil.copy(p, tmp_path / p.name)) for p in nwb_files]
    lake_dir = tmp_path / "lake"
    assert run("ingest", *map(str, files), "--lake", str(lake_dir))[0] == 0
    lake = Lake.open(lake_dir)
    before = state(lake)
    others = {p.stem: {t: session_rows(lake, t, p.stem) for t in SESSION_TABLES} for p in files[1:]}
    # the curator re-labels units of the first session: same spikes, different metric
    bundle = synth_session(0, **SIZE)  # type: ignore[arg-type]
    bundle.tables["units"] = bundle.tables["units"].with_columns(pl.col("snr") * 2)
    write_nwbfile(bundle, files[0], overwrite=True)
    code, out = run("ingest", *map(str, files), "--lake", str(lake_dir))
    assert code == 0, out
    after = state(lake)
    assert after["units"][0] == before["units"][0] + 1  # one new commit
    assert after["spike_times"] == before["spike_times"]  # spikes did not change: no commit
    assert after["trials"] == before["trials"]
    assert after["ingest_log"][1] == before["ingest_log"][1] + 1
    snr = session_rows(lake, "units", files[0].stem).sort("nwb_unit_id")["snr"]
    assert snr.to_list() == (bundle.tables["units"].sort("nwb_unit_id")["snr"]).to_list()
    for session_id, tables in others.items():
        for table, rows in tables.items():
            assert session_rows(lake, table, session_id).equals(rows), (session_id, table)


def _truncated(src: Path, dst: Path) -> Path:
    dst.write_bytes(src.read_bytes()[: src.stat().st_size // 2])
    return dst


def _not_nwb(src: Path, dst: Path) -> Path:
    with h5py.File(dst, "w") as f:
        f["data"] = np.arange(10)
    return dst


def _nwb1(src: Path, dst: Path) -> Path:
    with h5py.File(dst, "w") as f:
        f["nwb_version"] = "NWB-1.0.6"
        f["identifier"] = "old file"
        f.create_group("acquisition")
    return dst


def _unsorted_spikes(src: Path, dst: Path) -> Path:
    shutil.copy(src, dst)
    with h5py.File(dst, "r+") as f:
        index = f["units/spike_times_index"][:]
        unit = int(np.argmax(np.diff(np.concatenate([[0], index])) > 3))
        start = 0 if unit == 0 else int(index[unit - 1])
        times = f["units/spike_times"][start:int(index[unit])]
        f["units/spike_times"][start:int(index[unit])] = times[::-1]
    return dst


def _missing_group(src: Path, dst: Path) -> Path:
    shutil.copy(src, dst)
    with h5py.File(dst, "r+") as f:
        groups = [k for k, v in f["general/extracellular_ephys"].items()
                  if v.attrs.get("neurodata_type") == "ElectrodeGroup"]
        del f["general/extracellular_ephys"][groups[-1]]
    return dst


BAD = {
    "truncated": (_truncated, r"truncated|corrupt|HDF5"),
    "not-nwb": (_not_nwb, r"not an NWB file"),
    "nwb1": (_nwb1, r"NWB 1\.x"),
    "unsorted-spikes": (_unsorted_spikes, r"not sorted"),
    "missing-electrode-group": (_missing_group, r"electrode group"),
}


@pytest.mark.parametrize("kind", BAD)
def test_bad_input_is_refused_and_leaves_the_lake_untouched(nwb_files: list[Path], tmp_path: Path, kind: str) -> None:
    lake_dir = tmp_path / "lake"
    assert run("ingest", str(nwb_files[0]), "--lake", str(lake_dir))[0] == 0
    make, reason = BAD[kind]
    bad = make(nwb_files[1], tmp_path / f"{kind}.nwb")
    before = lake_bytes(lake_dir, except_tables=("ingest_runs",))
    code, out = run("ingest", str(bad), "--lake", str(lake_dir))
    assert code != 0
    assert str(bad) in out, out
    assert re.search(reason, out), out
    assert lake_bytes(lake_dir, except_tables=("ingest_runs",)) == before  # every table as it was
    failed = ingest_status(lake_dir).filter(pl.col("source_uri") == str(bad))  # and the failure recorded
    assert failed["status"].to_list() == ["failed"] and re.search(reason, failed["error_message"][0])


def test_bad_file_among_good_ones(nwb_files: list[Path], tmp_path: Path) -> None:
    lake_dir = tmp_path / "lake"
    bad = _truncated(nwb_files[2], tmp_path / "broken.nwb")
    code, out = run("ingest", str(nwb_files[0]), str(bad), str(nwb_files[1]), "--lake", str(lake_dir))
    assert code == 1
    assert "broken.nwb" in out and "2 of 3 sources ingested" in out
    assert Lake.open(lake_dir).scan("sessions").collect().height == 2


def test_missing_file_and_empty_lake_commands(tmp_path: Path) -> None:
    code, out = run("ingest", str(tmp_path / "nope.nwb"), "--lake", str(tmp_path / "lake"))
    assert code == 1 and "nope.nwb" in out
    assert not (tmp_path / "lake").exists()
    code, out = run("sql", "SELECT count(*) AS n FROM units", "--lake", str(tmp_path / "lake"), "--format", "json")
    assert code == 0 and '"n":0' in out.replace(" ", "")


def test_another_recording_claiming_a_session_needs_replace(nwb_files: list[Path], tmp_path: Path) -> None:
    lake_dir = tmp_path / "lake"
    assert run("ingest", str(nwb_files[0]), "--lake", str(lake_dir))[0] == 0
    impostor = Path(shutil.copy(nwb_files[1], tmp_path / "impostor.nwb"))
    with h5py.File(impostor, "r+") as f:
        del f["general/session_id"]
        f["general/session_id"] = nwb_files[0].stem
    before = lake_bytes(lake_dir, except_tables=("ingest_runs",))
    code, out = run("ingest", str(impostor), "--lake", str(lake_dir))
    assert code == 1 and "--replace" in out and str(impostor) in out
    assert lake_bytes(lake_dir, except_tables=("ingest_runs",)) == before
    code, out = run("ingest", "--replace", str(impostor), "--lake", str(lake_dir))
    assert code == 0, out
    sessions = Lake.open(lake_dir).scan("sessions").collect()
    assert sessions["source_uri"].to_list() == [str(impostor)]
