"""All five real NWB files go into one lake, and every column of the lake's rows agrees with pynwb."""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pynwb
import pytest

from npc_lake.errors import SessionError
from npc_lake.lake import Lake
from npc_lake.pipeline import ingest

from conftest import REALDATA, lake_bytes

pytestmark = pytest.mark.realdata

FILES = sorted((REALDATA / "nwb").glob("*/*.nwb")) if (REALDATA / "nwb").is_dir() else []
UNSORTED = "dandi-cli"  # the Janelia files on DANDI store each unit's spikes out of time order


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> tuple[Lake, dict[Path, str]]:
    if len(FILES) != 5:
        pytest.skip(f"expected the five real NWB files under {REALDATA / 'nwb'}")
    handle = Lake.open(tmp_path_factory.mktemp("real") / "lake")
    ids = {}
    for path in FILES:
        unsorted = UNSORTED in str(path)
        if unsorted:  # refused as they are, byte for byte nothing written; accepted with sort_spikes
            before = lake_bytes(Path(handle.uri))
            with pytest.raises(SessionError, match=r"not sorted.*--sort-spikes"):
                ingest(path, lake=handle)
            assert lake_bytes(Path(handle.uri)) == before
        ids[path] = ingest(path, lake=handle, sort_spikes=unsorted).session_id
    return handle, ids


def read_nwb(path: Path) -> Iterator[pynwb.NWBFile]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pynwb.NWBHDF5IO(str(path), "r", load_namespaces=True) as io:
            yield io.read()


def rows(lake: Lake, table: str, session_id: str, order: str) -> pl.DataFrame:
    return lake.scan(table).filter(pl.col("session_id") == session_id).sort(order).collect()


def plain(value: Any) -> Any:
    """A pynwb cell as plain Python: bytes decoded, arrays as (nested) lists, '' as None."""
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return None if value == "" else value


def same(a: Any, b: Any) -> bool:
    a, b = plain(a), plain(b)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, bool) or isinstance(b, bool):
        return a is not None and b is not None and bool(a) == bool(b)
    return bool(a == b)


def assert_columns_match(lake_rows: pl.DataFrame, expected: Any, renames: dict[str, str], skip: set[str],
                         table: str) -> None:
    """Every column pynwb reads (bar ``skip``) equals the lake column of the same (or renamed) name."""
    assert lake_rows.height == len(expected), table
    for column in expected.columns:
        if column in skip:
            continue
        ours = renames.get(column, column)
        assert ours in lake_rows.columns, f"{table}.{column} missing from the lake"
        for i, (got, want) in enumerate(zip(lake_rows[ours].to_list(), expected[column].tolist(), strict=True)):
            assert same(got, want), f"{table}.{column} row {i}: lake {got!r} != pynwb {want!r}"


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_lake_rows_match_pynwb(lake: tuple[Lake, dict[Path, str]], path: Path) -> None:
    handle, ids = lake
    session_id = ids[path]
    for nwb in read_nwb(path):
        sessions = rows(handle, "sessions", session_id, "session_id")
        assert sessions.height == 1
        assert sessions["identifier"][0] == nwb.identifier
        assert sessions["session_start_time"][0] == nwb.session_start_time
        assert same(sessions["session_description"][0], nwb.session_description)

        electrodes = rows(handle, "electrodes", session_id, "electrode_id")
        if nwb.electrodes is None:
            assert electrodes.height == 0
        else:
            expected_e = nwb.electrodes.to_dataframe()
            assert electrodes["electrode_id"].to_list() == [int(i) for i in expected_e.index]
            assert electrodes["electrode_group_name"].to_list() == [g.name for g in expected_e["group"]]
            assert_columns_match(electrodes, expected_e, {"group_name": "electrode_group_name"}, {"group"},
                                 "electrodes")

        units = rows(handle, "units", session_id, "nwb_unit_id")
        spikes = rows(handle, "spike_times", session_id, "unit_id")
        if nwb.units is None:
            assert units.height == 0 and spikes.height == 0
        else:
            expected_u = nwb.units.to_dataframe()
            assert units["nwb_unit_id"].to_list() == [int(i) for i in expected_u.index]
            skip = {"spike_times", "electrodes", "electrode_group", "waveform_mean", "waveform_sd"}
            assert_columns_match(units, expected_u, {}, skip, "units")
            for unit_id, (_, row) in zip(units["unit_id"], expected_u.iterrows(), strict=True):
                # the lake's own order, not a re-sorted copy: times must come out sorted per unit
                got = spikes.filter(pl.col("unit_id") == unit_id).sort("spike_time", maintain_order=True)
                stored = spikes.filter(pl.col("unit_id") == unit_id)["spike_time"].to_numpy()
                want = np.asarray(row["spike_times"], dtype=np.float64)
                want = np.sort(want) if UNSORTED in str(path) else want
                assert np.array_equal(got["spike_time"].to_numpy(), want)
                assert np.array_equal(np.sort(stored), want)
                if "electrodes" in expected_u.columns:
                    linked = units.filter(pl.col("unit_id") == unit_id)["electrodes"][0].to_list()
                    assert linked == [int(i) for i in row["electrodes"].index]
                if "electrode_group" in expected_u.columns:
                    group = units.filter(pl.col("unit_id") == unit_id)["electrode_group_name"][0]
                    assert group == row["electrode_group"].name
                for column in ("waveform_mean", "waveform_sd"):
                    if column in expected_u.columns:
                        lake_wave = np.asarray(units.filter(pl.col("unit_id") == unit_id)[column][0].to_list())
                        assert np.array_equal(lake_wave.reshape(np.shape(row[column])), row[column])
            assert units["num_spikes"].to_list() == [len(s) for s in expected_u["spike_times"]]

        for table, order, container in (("trials", "trial_index", nwb.trials), ("epochs", "epoch_index", nwb.epochs)):
            ours = rows(handle, table, session_id, order)
            if container is None:
                assert ours.height == 0
                continue
            expected = container.to_dataframe()
            assert ours[order].to_list() == [int(i) for i in expected.index]
            assert_columns_match(ours, expected, {}, set(), table)

        intervals = rows(handle, "intervals", session_id, "interval_index")
        expected_names = sorted(set(nwb.intervals) - {"trials", "epochs"})
        assert sorted(intervals["interval_name"].unique().to_list()) == expected_names


def test_all_five_sessions_are_distinct(lake: tuple[Lake, dict[Path, str]]) -> None:
    handle, ids = lake
    assert len(set(ids.values())) == 5
    assert handle.scan("sessions").collect().height == 5


def test_events_and_recordings(lake: tuple[Lake, dict[Path, str]]) -> None:
    handle, ids = lake
    for path, session_id in ids.items():
        events = handle.scan("events").filter(pl.col("session_id") == session_id).collect()
        recordings = handle.scan("recordings").filter(pl.col("session_id") == session_id).collect()
        for nwb in read_nwb(path):
            expected_events = {}
            for container in nwb.acquisition.values():
                if isinstance(container, pynwb.behavior.BehavioralEvents):
                    for name, series in container.time_series.items():
                        expected_events[name] = list(series.timestamps[:])
            assert sorted(events["name"].unique().to_list()) == sorted(expected_events)
            for name, times in expected_events.items():
                got = events.filter(pl.col("name") == name).sort("event_index")["event_time"].to_list()
                assert got == times
            series = [s for s in nwb.objects.values() if isinstance(s, pynwb.ecephys.ElectricalSeries)]
            assert recordings.height == len(series)
            for s in series:
                row = recordings.filter(pl.col("nwb_path").str.ends_with(s.name)).row(0, named=True)
                assert row["n_samples"] == s.data.shape[0] and row["data_uri"] == str(path)
