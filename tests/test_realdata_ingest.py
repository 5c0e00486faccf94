"""All five real NWB files go into one lake, and the lake's rows agree with what pynwb reads."""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import polars as pl
import pynwb
import pytest

from npc_lake.errors import SessionError
from npc_lake.lake import Lake
from npc_lake.pipeline import ingest

from conftest import REALDATA

pytestmark = pytest.mark.realdata

FILES = sorted((REALDATA / "nwb").glob("*/*.nwb")) if (REALDATA / "nwb").is_dir() else []


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> tuple[Lake, dict[Path, str]]:
    if len(FILES) != 5:
        pytest.skip(f"expected the five real NWB files under {REALDATA / 'nwb'}")
    handle = Lake.open(tmp_path_factory.mktemp("real") / "lake")
    ids = {}
    for path in FILES:
        # the Janelia files on DANDI store each unit's spikes out of time order: refused unless sorted
        unsorted = "dandi-cli" in str(path)
        if unsorted:
            before = sorted(p.name for p in Path(handle.uri).rglob("*")) if Path(handle.uri).exists() else []
            with pytest.raises(SessionError, match=r"not sorted.*--sort-spikes"):
                ingest(path, lake=handle)
            assert (sorted(p.name for p in Path(handle.uri).rglob("*")) if Path(handle.uri).exists() else []) == before
        ids[path] = ingest(path, lake=handle, sort_spikes=unsorted).session_id
    return handle, ids


def read_nwb(path: Path) -> Iterator[pynwb.NWBFile]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pynwb.NWBHDF5IO(str(path), "r", load_namespaces=True) as io:
            yield io.read()


def rows(lake: Lake, table: str, session_id: str, order: str) -> pl.DataFrame:
    return lake.scan(table).filter(pl.col("session_id") == session_id).sort(order).collect()


def same(a: object, b: object) -> bool:
    if a in ("", None) and b in ("", None):  # the lake stores an empty NWB string as NULL
        return True
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_lake_rows_match_pynwb(lake: tuple[Lake, dict[Path, str]], path: Path) -> None:
    handle, ids = lake
    session_id = ids[path]
    for nwb in read_nwb(path):
        sessions = rows(handle, "sessions", session_id, "session_id")
        assert sessions.height == 1
        assert sessions["identifier"][0] == nwb.identifier
        assert sessions["session_start_time"][0] == nwb.session_start_time

        electrodes = rows(handle, "electrodes", session_id, "electrode_id")
        expected_e = nwb.electrodes.to_dataframe() if nwb.electrodes is not None else None
        assert electrodes.height == (0 if expected_e is None else len(expected_e))
        if expected_e is not None:
            assert electrodes["electrode_id"].to_list() == [int(i) for i in expected_e.index]
            for column in ("x", "y", "z", "location", "imp"):
                if column in expected_e.columns:
                    for got, want in zip(electrodes[column].to_list(), expected_e[column].to_list(), strict=True):
                        assert same(got, want if not isinstance(want, bytes) else want.decode()), column
            assert electrodes["electrode_group_name"].to_list() == [g.name for g in expected_e["group"]]

        units = rows(handle, "units", session_id, "nwb_unit_id")
        spikes = rows(handle, "spike_times", session_id, "unit_id")
        if nwb.units is None:
            assert units.height == 0
        else:
            expected_u = nwb.units.to_dataframe()
            assert units["nwb_unit_id"].to_list() == [int(i) for i in expected_u.index]
            for unit_id, nwb_id, (_, row) in zip(units["unit_id"], units["nwb_unit_id"], expected_u.iterrows(),
                                                 strict=True):
                got = spikes.filter(pl.col("unit_id") == unit_id)["spike_time"].to_numpy()
                want = np.asarray(row["spike_times"], dtype=np.float64)
                assert np.array_equal(np.sort(got), np.sort(want)), f"unit {nwb_id}"
                if "electrodes" in expected_u.columns:
                    linked = units.filter(pl.col("unit_id") == unit_id)["electrodes"][0].to_list()
                    assert linked == [int(i) for i in row["electrodes"].index]
            assert units["num_spikes"].to_list() == [len(s) for s in expected_u["spike_times"]]
            for column in ("quality", "cell_type", "depth", "unit_x"):
                if column in expected_u.columns:
                    assert [same(a, b) for a, b in zip(units[column].to_list(), expected_u[column].to_list(),
                                                       strict=True)] == [True] * len(units)

        trials = rows(handle, "trials", session_id, "trial_index")
        if nwb.trials is None:
            assert trials.height == 0
        else:
            expected_t = nwb.trials.to_dataframe()
            assert trials.height == len(expected_t)
            for column in ("start_time", "stop_time"):
                assert np.array_equal(trials[column].to_numpy(), expected_t[column].to_numpy(), equal_nan=True)
            for column in ("type", "response", "photo_stim_power", "is_good", "pole_in_time"):
                if column in expected_t.columns:
                    assert [same(a, b) for a, b in zip(trials[column].to_list(), expected_t[column].to_list(),
                                                       strict=True)] == [True] * len(trials), column

        epochs = rows(handle, "epochs", session_id, "epoch_index")
        if nwb.epochs is None:
            assert epochs.height == 0
        else:
            expected_ep = nwb.epochs.to_dataframe()
            assert epochs["start_time"].to_list() == expected_ep["start_time"].to_list()
            assert epochs["tags"].to_list() == [list(t) for t in expected_ep["tags"]]


def test_all_five_sessions_are_distinct(lake: tuple[Lake, dict[Path, str]]) -> None:
    handle, ids = lake
    assert len(set(ids.values())) == 5
    assert handle.scan("sessions").collect().height == 5


def test_lick_events_of_the_janelia_files(lake: tuple[Lake, dict[Path, str]]) -> None:
    handle, ids = lake
    for path, session_id in ids.items():
        if "dandi-cli" not in str(path):
            continue
        for nwb in read_nwb(path):
            licks = nwb.acquisition["lick_times"]
            events = handle.scan("events").filter(pl.col("session_id") == session_id).collect()
            for name, series in licks.time_series.items():
                got = events.filter(pl.col("name") == name).sort("event_index")["event_time"].to_list()
                assert got == list(series.timestamps[:])
