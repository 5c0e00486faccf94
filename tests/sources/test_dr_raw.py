"""Raw DR session folders: ground truth recovered from generated sessions, across seeds and quirks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
from scipy import signal

from npc_lake.normalize import normalize_session
from npc_lake.sources.display_times import MONITOR_CENTER_DELAY_S as CENTER
from npc_lake.sources.dr_raw import read_dr_session
from npc_lake.testing.synth_raw import RawTruth, write_raw_session

FRAME_S = 1 / 60
#: Display times put black frames halfway between the white ones around them (npc_sync's definition), so a
#: frame's estimate is off its true flip by the jitter of the flips around it: well under a millisecond here.
DISPLAY_S = 1e-3
SAMPLE_S = 1 / 30_000
#: (seed, options): an aborted last trial, a session without opto, drifting probe clocks.
CASES = {
    "aborted": (1, {"aborted_last_trial": True}),
    "no_opto": (2, {"opto": False, "cameras": False}),
    "drift": (3, {"drift_ppm": 45.0, "n_probes": 3}),
}


@pytest.fixture(scope="module", params=sorted(CASES))
def generated(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[RawTruth, object]:
    seed, options = CASES[request.param]
    settings = {"n_units": 30, "duration_s": 300.0, "n_probes": 2, **options}
    truth = write_raw_session(tmp_path_factory.mktemp(request.param), index=seed, seed=seed, **settings)
    return truth, read_dr_session(truth.folder)


def test_every_trial_once_with_times_within_a_frame(generated: tuple[RawTruth, object]) -> None:
    truth, bundle = generated
    got = bundle.tables["trials"].sort("trial_index")  # type: ignore[attr-defined]
    want = truth.trials()
    assert got.height == want.height > 20
    for column in want.columns:
        if want[column].dtype == pl.Float64:
            both = got[column].is_not_nan() & want[column].is_not_nan()
            assert (got[column].is_nan() == want[column].is_nan()).all(), column
            assert ((got[column] - want[column]).abs().filter(both) < FRAME_S).all(), column
        else:
            assert got[column].to_list() == want[column].to_list(), column
    aborted = truth.task.values["trialStartFrame"].size > want.height
    assert aborted == (truth.task.values["trialStartFrame"].size == want.height + 1)


def test_licks_rewards_and_epochs_each_once(generated: tuple[RawTruth, object]) -> None:
    truth, bundle = generated
    events = bundle.tables["events"]  # type: ignore[attr-defined]
    licks = events.filter(pl.col("name") == "licks")["event_time"].to_numpy()
    assert licks.size == truth.licks.size and np.abs(licks - truth.licks).max() < 1e-5
    violations = events.filter(pl.col("name") == "quiescent_interval_violations")["event_time"].to_numpy()
    seen = np.asarray(truth.task.values["quiescentViolationFrames"])
    want = np.unique(truth.task.flips[seen - 1])
    assert violations.size == want.size > 0 and np.abs(violations - want).max() < 1e-5  # one sync sample
    rewards = events.filter(pl.col("name") == "rewards")["event_time"].to_numpy()
    assert rewards.size == truth.task.rewards.size and np.abs(rewards - truth.task.rewards).max() < 1e-5
    epochs = bundle.tables["epochs"]  # type: ignore[attr-defined]
    assert epochs["script_name"].to_list() == [run.task_name for run in truth.runs]
    # an epoch spans its first to its last frame on screen (centre of screen, as the reference defines it)
    shown = [(run.flips[0] + truth.display_lag + CENTER, run.flips[-1] + truth.display_lag + CENTER)
             for run in truth.runs]
    assert np.abs(epochs["start_time"].to_numpy() - [a for a, _ in shown]).max() < DISPLAY_S
    assert np.abs(epochs["stop_time"].to_numpy() - [b for _, b in shown]).max() < DISPLAY_S
    cameras = events.filter(pl.col("name").str.starts_with("frametimes_"))["name"].unique().sort().to_list()
    assert cameras == (["frametimes_behavior", "frametimes_eye", "frametimes_face"] if truth.cameras else [])


def test_mapping_and_optotagging_intervals(generated: tuple[RawTruth, object]) -> None:
    truth, bundle = generated
    intervals = bundle.tables["intervals"]  # type: ignore[attr-defined]
    rf = [run for run in truth.runs if run.task_name == "RFMapping"]
    for name, kind in (("VisRFMapping", "vis"), ("AudRFMapping", "aud")):
        rows = intervals.filter(pl.col("interval_name") == name).sort("start_time")
        want = np.array([t for run in rf for t, k in zip(run.truth["stim_start_time"], run.truth["kind"],
                                                           strict=True) if k == kind])
        tolerance = DISPLAY_S if kind == "vis" else 1e-4
        assert rows.height == want.size > 0 and np.abs(rows["stim_start_time"].to_numpy() - want).max() < tolerance
        assert rows["interval_index"].to_list() == list(range(rows.height))
    opto = intervals.filter(pl.col("interval_name") == "OptoTagging").sort("stim_start_time")
    runs = [run for run in truth.runs if run.task_name == "OptoTagging"]
    assert opto.height == sum(len(run.truth["stim_start_time"]) for run in runs)
    if runs:
        assert np.abs(opto["stim_start_time"].to_numpy() - runs[0].truth["stim_start_time"]).max() < 1e-4
        assert opto["power"].to_list() == runs[0].truth["power"]
    performance = intervals.filter(pl.col("interval_name") == "performance")
    assert performance.height == truth.trials()["block_index"].n_unique()


def test_every_unit_and_spike_within_one_sample(generated: tuple[RawTruth, object]) -> None:
    truth, bundle = generated
    units = bundle.tables["units"]  # type: ignore[attr-defined]
    want_units = truth.bundle.tables["units"]
    assert sorted(units["unit_id"].to_list()) == sorted(want_units["unit_id"].to_list())
    joined = units.join(want_units, on="unit_id", suffix="_truth")
    assert (joined["peak_channel"] == joined["peak_channel_truth"]).all()
    assert (joined["structure"] == joined["structure_truth"]).all()
    assert joined.select((pl.col("x") - pl.col("x_truth")).abs().max()).item() < 1e-6
    assert (joined["default_qc"] == joined["default_qc_truth"]).all()
    got = pl.concat(list(bundle.spike_batches())).sort("unit_id", "spike_time")  # type: ignore[attr-defined]
    want = truth.spikes().sort("unit_id", "spike_time")
    assert got.height == want.height > 1000 and got["unit_id"].equals(want["unit_id"])
    error = np.abs(got["spike_time"].to_numpy() - want["spike_time"].to_numpy())
    assert error.max() < SAMPLE_S


def test_running_speed_follows_the_encoder(generated: tuple[RawTruth, object]) -> None:
    truth, bundle = generated
    speed = bundle.tables["timeseries"].filter(pl.col("name") == "running_speed")  # type: ignore[attr-defined]
    task = truth.task
    got = speed.filter(pl.col("sample_time").is_between(task.flips[0] - 1e-3, task.flips[-1] + 1e-3))
    assert got.height == task.flips.size - 1
    # stamped between the reads the change happened between, filtered at 4 Hz (npc_sessions' definition)
    half_frame = 0.5 * np.median(np.diff(task.flips[:-1]))
    assert np.abs(got["sample_time"].to_numpy() - (task.flips[:-1] + half_frame)).max() < 1e-5
    b, a = signal.butter(3, Wn=4.0, fs=60, btype="lowpass")
    assert np.allclose(got["value"].to_numpy(), signal.filtfilt(b, a, task.running_speed[1:]))


def test_the_generated_session_normalizes(generated: tuple[RawTruth, object]) -> None:
    _, bundle = generated
    session = normalize_session(bundle)  # type: ignore[arg-type]
    assert session.row_counts["spike_times"] > 0 and session.row_counts["trials"] > 0
    assert session.frame_of("sessions")["session_start_time"][0].tzinfo is not None
    assert not bundle.skipped  # type: ignore[attr-defined]


def test_probe_clock_drift_is_fitted(tmp_path: Path) -> None:
    truth = write_raw_session(tmp_path, index=4, seed=4, n_units=12, duration_s=200.0, n_probes=1, drift_ppm=-60.0,
                              cameras=False)
    bundle = read_dr_session(truth.folder)
    got = pl.concat(list(bundle.spike_batches())).sort("unit_id", "spike_time")
    want = truth.spikes().sort("unit_id", "spike_time")
    naive_error = 60e-6 * want["spike_time"].max()  # what ignoring the drift would cost
    assert naive_error > 100 * SAMPLE_S
    assert np.abs(got["spike_time"].to_numpy() - want["spike_time"].to_numpy()).max() < SAMPLE_S
