"""psth over lake rows: exact against a brute-force count, planted responses found, edges and errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from npc_lake.analysis import psth
from npc_lake.errors import NpcLakeError
from npc_lake.lake import Lake, write_session
from npc_lake.lake.stream import write_partition_stream
from npc_lake.normalize import normalize_session

from conftest import tiny_bundle

SESSIONS = ("600001_2024-01-02", "600002_2024-01-03")


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    handle = Lake.open(tmp_path_factory.mktemp("psth") / "lake")
    for seed, session_id in enumerate(SESSIONS):
        write_session(normalize_session(tiny_bundle(session_id, n_units=4, spikes_per_unit=400, seed=seed)),
                      lake=handle)
    return handle


def brute_force(lake: Lake, units: pl.DataFrame, events: pl.DataFrame, window: tuple[float, float],
                bin_size: float) -> dict[tuple[str, str, str, int], int]:
    spikes = lake.scan("spike_times").collect().join(units, on=["session_id", "unit_id"], how="semi")
    counts: dict[tuple[str, str, str, int], int] = {}
    n_bins = round((window[1] - window[0]) / bin_size)
    for session_id, unit_id, t in spikes.select("session_id", "unit_id", "spike_time").iter_rows():
        for onset, context in events.filter(pl.col("session_id") == session_id).select(
                "event_time", "context").iter_rows():
            relative = t - onset
            if window[0] <= relative < window[1]:
                b = int(np.floor((relative - window[0]) / bin_size))
                if 0 <= b < n_bins:
                    key = (session_id, unit_id, context, b)
                    counts[key] = counts.get(key, 0) + 1
    return counts


def test_counts_equal_a_brute_force_count_across_sessions(lake: Lake) -> None:
    rng = np.random.default_rng(5)
    events = pl.DataFrame({"session_id": np.repeat(SESSIONS, 30),
                           "event_time": np.concatenate([np.sort(rng.uniform(0, 100, 30)) for _ in SESSIONS]),
                           "context": rng.choice(["vis", "aud"], 60)})  # windows overlap: 30 events in 100 s
    units = lake.scan("units").filter(pl.col("default_qc")).select("session_id", "unit_id").collect()
    out = psth(units, events, lake=lake, window=(-0.25, 0.5), bin_size=0.05, by=("context",))
    want = brute_force(lake, units, events, (-0.25, 0.5), 0.05)
    got = {(s, u, c, b): n for s, u, c, b, n in
           out.filter(pl.col("spike_count") > 0).select("session_id", "unit_id", "context", "bin_index",
                                                          "spike_count").iter_rows()}
    assert got == want and sum(want.values()) > 50
    assert out.height == units.height * 2 * 15  # dense: every unit, context and bin
    n_events = out.group_by("session_id", "context").agg(pl.col("n_events").first()).sort("session_id", "context")
    assert n_events["n_events"].to_list() == events.group_by("session_id", "context").len().sort(
        "session_id", "context")["len"].to_list()
    assert out.filter(pl.col("bin_index") == 3)["bin_start"].unique().to_list() == [pytest.approx(-0.1)]
    described = lake.scan("units").filter(pl.col("default_qc")).select("session_id", "unit_id", "structure",
                                                                        "default_qc").collect()
    assert psth(described, events, lake=lake, window=(-0.25, 0.5), bin_size=0.05, by=("context",)).equals(out)


def test_a_spike_on_the_window_start_counts_and_one_on_the_stop_does_not(lake: Lake) -> None:
    spikes = lake.scan("spike_times").filter(pl.col("session_id") == SESSIONS[0]).collect()
    unit_id, t = spikes.row(100, named=True)["unit_id"], spikes.row(100, named=True)["spike_time"]
    units = pl.DataFrame({"session_id": [SESSIONS[0]], "unit_id": [unit_id]})
    on_start = psth(units, pl.DataFrame({"session_id": [SESSIONS[0]], "event_time": [t + 0.5]}), lake=lake,
                    dense=False)
    train = spikes.filter(pl.col("unit_id") == unit_id)["spike_time"].to_numpy()
    relative = train - (t + 0.5)
    in_first_bin = int((np.floor((relative[(relative >= -0.5) & (relative < 1.0)] + 0.5) / 0.01) == 0).sum())
    assert in_first_bin >= 1  # t itself, exactly on the window start
    assert on_start.filter(pl.col("bin_index") == 0)["spike_count"].to_list() == [in_first_bin]
    on_stop = psth(units, pl.DataFrame({"session_id": [SESSIONS[0]], "event_time": [t - 1.0]}), lake=lake,
                   dense=False)
    assert t not in (on_stop["bin_start"] + (t - 1.0)).to_list()


def test_bad_input_is_a_clear_error(lake: Lake, tmp_path: Path) -> None:
    units = pl.DataFrame({"session_id": [SESSIONS[0]], "unit_id": ["x"]})
    with pytest.raises(NpcLakeError, match=r"events lacks column\(s\) \['event_time'\]"):
        psth(units, pl.DataFrame({"session_id": [SESSIONS[0]]}), lake=lake)
    with pytest.raises(NpcLakeError, match="must be increasing"):
        psth(units, pl.DataFrame({"session_id": [SESSIONS[0]], "event_time": [1.0]}), lake=lake, window=(1.0, 0.0))
    empty = psth(units, pl.DataFrame({"session_id": [SESSIONS[0]], "event_time": [1.0]}), lake=lake, dense=False)
    assert empty.is_empty()


def test_counts_do_not_depend_on_the_stored_order_of_spikes(tmp_path: Path) -> None:
    """A lake rewritten by another tool (rows in any order, no per-structure files) counts the same."""
    session_id = SESSIONS[0]
    lake = Lake.open(tmp_path / "lake")
    write_session(normalize_session(tiny_bundle(session_id, n_units=4, spikes_per_unit=400, seed=0)), lake=lake)
    units = lake.scan("units").select("session_id", "unit_id").collect()
    events = pl.DataFrame({"session_id": [session_id] * 12, "event_time": np.linspace(2.0, 90.0, 12),
                           "context": ["vis", "aud"] * 6})
    stored = psth(units, events, lake=lake, window=(-0.25, 0.5), bin_size=0.05, by=("context",))
    spikes = lake.scan("spike_times").filter(pl.col("session_id") == session_id).collect()
    table = spikes.sample(fraction=1.0, shuffle=True, seed=1).to_arrow()
    write_partition_stream(lake, table_name="spike_times", session_id=session_id,
                           batches=iter(table.to_batches(max_chunksize=64)), schema=table.schema)
    shuffled = psth(units, events, lake=lake, window=(-0.25, 0.5), bin_size=0.05, by=("context",))
    assert shuffled.equals(stored) and stored["spike_count"].sum() > 20
    assert stored["spike_count"].sum() == sum(
        brute_force(lake, units, events, (-0.25, 0.5), 0.05).values())
