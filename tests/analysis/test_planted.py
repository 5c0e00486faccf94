"""Planted responses in synthetic sessions, found again: psth (numba and the DuckDB macro) equals a brute-force
NumPy count exactly, the response metric flags exactly the planted units, RF maps peak where planted."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from npc_lake.analysis import psth
from npc_lake.lake import Lake, write_session
from npc_lake.normalize import normalize_session
from npc_lake.pipeline import session_products
from npc_lake.query.duckdb import run_sql
from npc_lake.testing import synth_session
from npc_lake.testing.synth_trials import RF_GRID_X, RF_GRID_Y, RF_TONES
from npc_lake.testing.synth_units import PlantedResponse

N_UNITS, DURATION_S = 40, 1200.0
PLANTED = {
    0: (PlantedResponse(3, "vis1", latency_s=0.040, gain=3.0), PlantedResponse(7, "sound2", latency_s=0.020, gain=2.5),
        PlantedResponse(9, "grating", latency_s=0.050, gain=3.0, grating_xy=(RF_GRID_X[1], RF_GRID_Y[2])),
        PlantedResponse(11, "tone", latency_s=0.015, gain=3.0, tone_freq=float(RF_TONES[6]))),
    1: (PlantedResponse(5, "vis2", latency_s=0.060, gain=3.0), PlantedResponse(5, "sound1", latency_s=0.025, gain=3.0)),
}


@pytest.fixture(scope="module")
def planted_lake(tmp_path_factory: pytest.TempPathFactory) -> tuple[Lake, dict[str, list[tuple[str, PlantedResponse]]]]:
    handle = Lake.open(tmp_path_factory.mktemp("planted") / "lake")
    truth: dict[str, list[tuple[str, PlantedResponse]]] = {}
    for index, responses in PLANTED.items():
        bundle = synth_session(index, n_units=N_UNITS, duration_s=DURATION_S, seed=3, n_probes=4, responses=responses)
        unit_ids = bundle.tables["units"]["unit_id"].to_list()
        truth[bundle.session_id] = [(unit_ids[r.unit_index], r) for r in responses]
        write_session(normalize_session(bundle, derive=session_products), lake=handle)
    return handle, truth


def brute_force(spikes: pl.DataFrame, events: pl.DataFrame, window: tuple[float, float], bin_size: float,
                by: str) -> dict[tuple[str, str, str, int], int]:
    """Every (spike, event) pair of a session, binned by NumPy broadcasting."""
    n_bins = math.ceil(round((window[1] - window[0]) / bin_size, 9))
    counts: dict[tuple[str, str, str, int], int] = {}
    for (session_id, unit_id), unit in spikes.group_by("session_id", "unit_id"):
        times = unit["spike_time"].to_numpy()
        session_events = events.filter(pl.col("session_id") == session_id)
        for (group,), chosen in session_events.group_by(by):
            relative = times[None, :] - chosen["event_time"].to_numpy()[:, None]
            inside = (relative >= window[0]) & (relative < window[1])
            bins = np.floor((relative[inside] - window[0]) / bin_size).astype(np.int64)
            histogram = np.bincount(bins[bins < n_bins], minlength=n_bins)
            for b in np.flatnonzero(histogram):
                counts[(str(session_id), str(unit_id), str(group), int(b))] = int(histogram[b])
    return counts


def test_psth_and_the_duckdb_macro_equal_a_brute_force_count(planted_lake: tuple[Lake, dict]) -> None:
    lake, _ = planted_lake
    units = lake.scan("units").select("session_id", "unit_id").collect()
    events = (lake.scan("trials").filter(pl.col("stim_name").is_in(["vis1", "sound2"]))
              .select("session_id", event_time="stim_start_time", stim="stim_name").collect())
    window, bin_size = (-0.2, 0.3), 0.005
    want = brute_force(lake.scan("spike_times").collect(), events, window, bin_size, "stim")
    for engine in ("numpy", "numba"):
        out = psth(units, events, lake=lake, window=window, bin_size=bin_size, by=("stim",), engine=engine)
        got = {(s, u, g, b): n for s, u, g, b, n in out.filter(pl.col("spike_count") > 0).select(
            "session_id", "unit_id", "stim", "bin_index", "spike_count").iter_rows()}
        assert got == want and sum(want.values()) > 10_000, engine
    sql = run_sql("""
        WITH chosen AS (SELECT session_id, unit_id FROM units),
             ev AS (SELECT session_id, stim_start_time AS event_time, stim_name AS stim FROM trials
                    WHERE stim_name IN ('vis1', 'sound2'))
        SELECT * FROM psth('chosen', 'ev', window_start := -0.2, window_stop := 0.3, bin_size := 0.005)""", lake=lake)
    key = ["session_id", "unit_id", "stim", "bin_index"]
    assert sql.sort(key).select(*key, "bin_start", "spike_count", "n_events").equals(
        out.sort(key).select(*key, "bin_start", "spike_count", "n_events"))


def test_the_response_metric_flags_exactly_the_planted_units(planted_lake: tuple[Lake, dict]) -> None:
    lake, truth = planted_lake
    responses = lake.scan("unit_responses").collect()
    assert responses.height == 2 * N_UNITS * 4
    flagged = set(responses.filter(pl.col("is_responsive")).select("unit_id", "stim_name").iter_rows())
    planted = {(unit_id, r.stimulus) for items in truth.values() for unit_id, r in items
               if r.stimulus.startswith(("vis", "sound"))}
    assert flagged == planted
    for items in truth.values():
        for unit_id, r in items:
            if (unit_id, r.stimulus) in planted:
                row = responses.filter((pl.col("unit_id") == unit_id) & (pl.col("stim_name") == r.stimulus))
                assert abs(row["latency"][0] - r.latency_s) < 0.01, (unit_id, r, row["latency"][0])
                assert row["response_rate"][0] > row["baseline_rate"][0] + 10
    assert responses.filter(~pl.col("is_responsive"))["latency"].is_nan().all()


def test_rf_maps_peak_at_the_planted_position_and_tone(planted_lake: tuple[Lake, dict]) -> None:
    lake, truth = planted_lake
    maps = lake.scan("rf_maps").collect()
    for unit_id, r in (item for items in truth.values() for item in items):
        if r.stimulus == "grating":
            chosen = maps.filter((pl.col("unit_id") == unit_id) & (pl.col("map_name") == "grating_position"))
            assert chosen.height == len(RF_GRID_X) * len(RF_GRID_Y)
            best = chosen.sort("response_rate", descending=True).row(0, named=True)
            assert (best["grating_x"], best["grating_y"]) == pytest.approx(r.grating_xy)
        if r.stimulus == "tone":
            chosen = maps.filter((pl.col("unit_id") == unit_id) & (pl.col("map_name") == "tone"))
            assert chosen.sort("response_rate", descending=True)["freq"][0] == r.tone_freq
    assert set(maps["map_name"].unique()) == {"grating_position", "tone", "am_noise"}


def test_spike_histograms_and_drift_maps_hold_every_spike(planted_lake: tuple[Lake, dict]) -> None:
    lake, _ = planted_lake
    units = lake.scan("units").select("session_id", "unit_id", "electrode_group_name", "default_qc",
                                      "num_spikes").collect()
    per_probe = units.group_by("session_id", "electrode_group_name").agg(
        total=pl.col("num_spikes").sum(), qc=pl.col("num_spikes").filter(pl.col("default_qc")).sum())
    histograms = lake.scan("spike_histograms").collect()
    summed = histograms.group_by("session_id", "electrode_group_name").agg(
        total=pl.col("spike_count").sum(), qc=pl.col("qc_spike_count").sum(), n=pl.len(),
        first=pl.col("bin_start_time").min())
    joined = per_probe.join(summed, on=["session_id", "electrode_group_name"], suffix="_h")
    assert joined.height == per_probe.height
    assert (joined["total"] == joined["total_h"]).all() and (joined["qc"] == joined["qc_h"]).all()
    assert (joined["first"] == 0.0).all() and (joined["n"] == DURATION_S).all()
    drift = lake.scan("drift_maps").collect()
    assert drift["spike_count"].sum() == units["num_spikes"].sum()  # every synthetic unit has a peak channel
    assert drift["depth"].min() >= 0 and drift["depth"].max() < 3840
    assert drift["mean_amplitude"].is_nan().sum() == 0
