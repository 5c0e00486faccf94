"""npc_lake.Session: npc_sessions-style access to one session, served from lake rows, and as-of snapshots."""

from __future__ import annotations

import warnings
from pathlib import Path

import polars as pl
import pynwb
import pytest
from polars.testing import assert_frame_equal

import npc_lake
from npc_lake.errors import LakeError
from npc_lake.export.nwbfile import write_nwbfile
from npc_lake.lake import Lake, read_log
from npc_lake.pipeline import ingest
from npc_lake.testing import synth_session, write_synthetic_nwb

SIZE = {"n_units": 12, "duration_s": 200.0, "seed": 4}


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    folder = tmp_path_factory.mktemp("sessions")
    handle = Lake.open(folder / "lake")
    for path in write_synthetic_nwb(folder / "nwb", n_sessions=2, **SIZE):  # type: ignore[arg-type]
        ingest(path, lake=handle)
    behaviour_only = synth_session(2, **SIZE)  # type: ignore[arg-type]
    for table in ("units", "electrodes", "electrode_groups", "devices"):
        behaviour_only.tables.pop(table)
    behaviour_only.spike_batches = lambda: iter(())
    ingest(write_nwbfile(behaviour_only, folder / "nwb" / "behaviour.nwb"), lake=handle)
    return handle


def rows(lake: Lake, table: str, session_id: str) -> pl.DataFrame:
    return lake.scan(table).filter(pl.col("session_id") == session_id).collect()


def test_properties_equal_lake_rows(lake: Lake) -> None:
    session_id = sorted(lake.scan("sessions").collect()["session_id"].to_list())[0]
    s = npc_lake.Session(session_id, lake=lake)
    assert s.metadata["session_id"] == session_id and s.is_ephys and s.is_task and s.is_sync
    assert_frame_equal(s.trials, rows(lake, "trials", session_id).sort("trial_index"))
    assert_frame_equal(s.units, rows(lake, "units", session_id).sort("nwb_unit_id"))
    assert_frame_equal(s.epochs, rows(lake, "epochs", session_id).sort("epoch_index"))
    assert_frame_equal(s.electrodes, rows(lake, "electrodes", session_id).sort("electrode_id"))
    assert s.subject.height == 1
    assert set(s.intervals) == {"VisRFMapping", "AudRFMapping", "performance"}
    assert s.intervals["performance"].height == s.trials["block_index"].n_unique()
    spikes = s.spike_times()
    assert spikes.height == s.units["num_spikes"].sum()
    first = s.units["unit_id"][0]
    assert s.spike_times([first])["unit_id"].unique().to_list() == [first]


def test_nwb_property_equals_the_exported_file(lake: Lake, tmp_path: Path) -> None:
    s = next(npc_lake.get_sessions(lake=lake, is_ephys=True))
    exported = npc_lake.export_nwb(s.id, tmp_path / "out.nwb", lake=lake)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pynwb.NWBHDF5IO(str(exported), "r") as io:
            on_disk = io.read()
            in_memory = s.nwb
            assert in_memory.identifier == on_disk.identifier
            assert in_memory.session_start_time == on_disk.session_start_time
            for name in ("trials", "epochs", "electrodes"):
                memory = getattr(in_memory, name).to_dataframe().reset_index().drop(columns="group", errors="ignore")
                disk = getattr(on_disk, name).to_dataframe().reset_index().drop(columns="group", errors="ignore")
                assert_frame_equal(pl.from_pandas(memory), pl.from_pandas(disk), check_dtypes=False)
            memory_units = in_memory.units.to_dataframe()
            disk_units = on_disk.units.to_dataframe()
            assert list(memory_units["unit_id"]) == list(disk_units["unit_id"])
            for a, b in zip(memory_units["spike_times"], disk_units["spike_times"], strict=True):
                assert list(a) == list(b)


def test_get_sessions_filters_like_npc_sessions(lake: Lake) -> None:
    every = [s.id for s in npc_lake.get_sessions(lake=lake)]
    ephys = [s.id for s in npc_lake.get_sessions(lake=lake, is_ephys=True)]
    assert len(every) == 3 and len(ephys) == 2
    assert [s.id for s in npc_lake.get_sessions(lake=lake, is_ephys=False)] == sorted(set(every) - set(ephys))
    trials = {s.id: s.trials for s in npc_lake.get_sessions(lake=lake)}
    assert all(frame.height > 0 for frame in trials.values())


def test_as_of_sees_the_session_as_it_was(tmp_path: Path) -> None:
    handle = Lake.open(tmp_path / "lake")
    path = write_synthetic_nwb(tmp_path / "nwb", n_sessions=1, **SIZE)[0]  # type: ignore[arg-type]
    session_id = ingest(path, lake=handle).session_id
    first_log_version = handle.version("ingest_log")
    assert first_log_version is not None
    bundle = synth_session(0, **SIZE)  # type: ignore[arg-type]
    bundle.tables["units"] = bundle.tables["units"].with_columns(pl.col("snr") + 100)
    write_nwbfile(bundle, path, overwrite=True)
    ingest(path, lake=handle)
    assert read_log(handle).height == 2
    old = npc_lake.Session(session_id, lake=handle, as_of=first_log_version)
    new = npc_lake.Session(session_id, lake=handle)
    assert (new.units["snr"] - old.units["snr"]).round(9).unique().to_list() == [100.0]
    assert_frame_equal(old.trials, new.trials)
    with pytest.raises(LakeError, match="no ingest-log version 99"):
        npc_lake.Session(session_id, lake=handle, as_of=99)
    with pytest.raises(LakeError, match="not in the lake"):
        npc_lake.Session("600009_2024-01-01", lake=handle)
