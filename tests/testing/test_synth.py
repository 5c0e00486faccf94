"""The synthetic DR session generator: determinism, declared dtypes, and task/ephys semantics."""

from __future__ import annotations

import math
import re
from datetime import timedelta

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from npc_lake.schema import TABLES, SessionBundle
from npc_lake.schema.ephys import UNIT_COLUMNS_IN_SPIKES
from npc_lake.schema.ids import is_dr_session_id
from npc_lake.sources.dr_performance import dprime
from npc_lake.testing import synth_session, synth_sessions

DURATION = 400.0
N_UNITS = 60


@pytest.fixture(scope="module")
def bundle() -> SessionBundle:
    return synth_session(3, n_units=N_UNITS, duration_s=DURATION, seed=7)


@pytest.fixture(scope="module")
def spikes(bundle: SessionBundle) -> list[pl.DataFrame]:
    return list(bundle.spike_batches())


def test_same_arguments_give_identical_sessions(bundle: SessionBundle, spikes: list[pl.DataFrame]) -> None:
    again = synth_session(3, n_units=N_UNITS, duration_s=DURATION, seed=7)
    assert again.session_id == bundle.session_id
    assert again.tables.keys() == bundle.tables.keys()
    for name, table in bundle.tables.items():
        assert_frame_equal(again.tables[name], table)
    for first, second, third in zip(spikes, again.spike_batches(), bundle.spike_batches(), strict=True):
        assert_frame_equal(first, second)
        assert_frame_equal(first, third)


def test_indices_and_seeds_name_different_sessions() -> None:
    ids = [synth_session(i, n_units=20, duration_s=120.0).session_id for i in range(7)]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"\d{6}_\d{4}-\d{2}-\d{2}", s) and is_dr_session_id(s) for s in ids)
    subjects = [s.split("_")[0] for s in ids]
    assert len(set(subjects)) < len(subjects)  # a subject comes back on another day
    assert synth_session(0, n_units=20, duration_s=120.0, seed=1).session_id != ids[0]
    listed = [b.session_id for b in synth_sessions(3, n_units=20, duration_s=120.0)]
    assert listed == ids[:3]


def test_frames_have_the_declared_columns_and_dtypes(bundle: SessionBundle, spikes: list[pl.DataFrame]) -> None:
    expected = {"sessions", "subjects", "devices", "electrode_groups", "electrodes", "units", "trials", "stimuli",
                "epochs", "intervals", "events", "timeseries"}
    assert set(bundle.tables) == expected
    for name, table in bundle.tables.items():
        assert table.schema == TABLES[name].polars_schema, name
        assert (table["session_id"] == bundle.session_id).all()
    source_columns = {k: v for k, v in TABLES["spike_times"].polars_schema.items()
                      if k not in UNIT_COLUMNS_IN_SPIKES}  # normalize copies those from units
    for batch in spikes:
        assert dict(batch.schema) == source_columns


def test_session_and_subject_metadata(bundle: SessionBundle) -> None:
    session = bundle.tables["sessions"].row(0, named=True)
    subject = bundle.tables["subjects"].row(0, named=True)
    start = session["session_start_time"]
    assert start.utcoffset() == timedelta(0) and session["utc_offset_minutes"] in (-420, -480)
    assert session["timestamps_reference_time"] == start
    local_day = (start + timedelta(minutes=session["utc_offset_minutes"])).date()
    assert bundle.session_id == f"{session['subject_id']}_{local_day}"
    assert session["institution"] == "Allen Institute" and session["nwb_version"] is None
    assert session["epochs"] == bundle.tables["epochs"]["script_name"].to_list()
    assert subject["subject_id"] == session["subject_id"] and subject["species"] == "Mus musculus"
    assert subject["age"] == f"P{(local_day - subject['date_of_birth'].date()).days}D"
    assert subject["weight"] is None or re.fullmatch(r"\d+\.\d g", subject["weight"])


def test_trial_outcomes_are_consistent(bundle: SessionBundle) -> None:
    t = bundle.tables["trials"]
    assert t.height > 30 and t["trial_index"].to_list() == list(range(t.height))
    rewarded_target = pl.when(pl.col("rewarded_modality") == "vis").then(pl.lit("vis1")).otherwise(pl.lit("sound1"))
    checks = t.select(
        go=(pl.col("is_go") == (pl.col("stim_name") == rewarded_target)).all(),  # instruction trials included
        nogo=(pl.col("is_nogo") == ((pl.col("stim_name") != rewarded_target) & ~pl.col("is_catch"))).all(),
        hit=(pl.col("is_hit") == (pl.col("is_go") & pl.col("is_response"))).all(),
        miss=(pl.col("is_miss") == (pl.col("is_go") & ~pl.col("is_response"))).all(),
        fa=(pl.col("is_false_alarm") == (pl.col("is_nogo") & pl.col("is_response"))).all(),
        cr=(pl.col("is_correct_reject") == (pl.col("is_nogo") & ~pl.col("is_response"))).all(),
        rewarded=(pl.col("is_rewarded") == (pl.col("is_hit") | pl.col("is_instruction"))).all(),
        reward_time=(pl.col("reward_time").is_not_nan() == pl.col("is_rewarded")).all(),
        timeout=(pl.col("timeout_start_time").is_not_nan() == pl.col("is_false_alarm")).all(),
        repeat=(pl.col("is_repeat") == (pl.col("repeat_index") > 0)).all(),
        catch=(pl.col("is_catch") == (pl.col("stim_name") == "catch")).all(),
        no_opto=(~pl.col("is_opto")).all() & pl.col("opto_start_time").is_nan().all(),
    ).row(0, named=True)
    assert all(checks.values()), checks
    # every trial but catch trials has exactly one outcome; instruction trials are go trials (DR's tables)
    scored = t.filter(~pl.col("is_catch"))
    outcomes = scored.select(pl.sum_horizontal("is_hit", "is_miss", "is_false_alarm", "is_correct_reject"))
    assert (outcomes.to_series() == 1).all()
    outcome_flags = ["is_hit", "is_miss", "is_false_alarm", "is_correct_reject"]
    assert not t.filter(pl.col("is_catch"))[outcome_flags].to_numpy().any()
    assert t.filter(pl.col("is_instruction"))["is_go"].all()
    instruction = t.filter(pl.col("is_instruction"))
    assert instruction["is_noncontingent_reward"].all() and instruction["is_reward_scheduled"].all()
    assert (t.group_by("block_index").agg(pl.col("is_instruction").head(5).all())["is_instruction"]).all()
    assert t["block_index"].n_unique() >= 2
    blocks = t.group_by("block_index", maintain_order=True).agg(pl.col("rewarded_modality").first())
    assert blocks["rewarded_modality"].to_list()[:2] in (["vis", "aud"], ["aud", "vis"])
    repeats = t.with_columns(prev_miss=pl.col("is_miss").shift(1), prev_stim=pl.col("stim_name").shift(1)).filter(
        pl.col("is_repeat"))
    assert repeats["prev_miss"].all() and (repeats["prev_stim"] == repeats["stim_name"]).all()


def test_trial_times_are_ordered(bundle: SessionBundle) -> None:
    t = bundle.tables["trials"]
    stim = t.filter(~pl.col("is_catch"))
    assert (stim["quiescent_stop_time"] == stim["stim_start_time"]).all()
    assert (stim["stim_start_time"] < stim["stim_stop_time"]).all()
    assert t.filter(pl.col("is_catch"))["stim_start_time"].is_nan().all()
    onset = t["quiescent_stop_time"]
    assert (t["start_time"] <= t["quiescent_start_time"]).all() and (t["quiescent_start_time"] < onset).all()
    assert ((t["response_window_start_time"] - onset).is_between(0.09, 0.12)).all()
    assert ((t["response_window_stop_time"] - onset).is_between(0.99, 1.02)).all()
    responded = t.filter(pl.col("is_response"))
    assert (responded["response_time"] > responded["response_window_start_time"]).all()
    assert (responded["response_time"] < responded["response_window_stop_time"]).all()
    assert t.filter(~pl.col("is_response"))["response_time"].is_nan().all()
    times = t.select(pl.col("^.*_time$").fill_nan(None))
    latest = times.select(pl.max_horizontal(pl.all().exclude("stop_time"))).to_series()
    assert (t["stop_time"] >= latest).all()
    assert (t["start_time"].shift(-1).drop_nulls() > t["stop_time"].head(t.height - 1)).all()
    epochs = bundle.tables["epochs"].filter(pl.col("script_name") == "DynamicRouting1")
    assert t["start_time"].min() >= epochs["start_time"][0] and t["stop_time"].max() <= epochs["stop_time"][0]
    assert (t["start_time"] % 1.0 != 0).all()  # jittered, not round


def test_performance_rows_agree_with_trials(bundle: SessionBundle) -> None:
    """Each performance row, recounted row by row with npc_sessions' formulas."""
    t = bundle.tables["trials"]
    perf = bundle.tables["intervals"].filter(pl.col("interval_name") == "performance").sort("block_index")
    assert perf["interval_index"].to_list() == list(range(perf.height)) == sorted(t["block_index"].unique())
    for row in perf.iter_rows(named=True):
        block = t.filter(pl.col("block_index") == row["block_index"])

        def n(*flags: str, negate: tuple[str, ...] = (), frame: pl.DataFrame = block) -> int:
            keep = pl.lit(True)
            for flag in flags:
                keep &= pl.col(flag)
            for flag in negate:
                keep &= ~pl.col(flag)
            return frame.filter(keep).height

        assert row["n_trials"] == block.height and row["n_hits"] == n("is_hit")
        assert row["n_responses"] == n("is_response") and row["n_contingent_rewards"] == n("is_contingent_reward")
        assert row["start_time"] == block["start_time"].min() and row["stop_time"] == block["stop_time"].max()
        assert row["rewarded_modality"] == block["rewarded_modality"][0]
        assert row["is_first_block_aud"] == (t["rewarded_modality"][0] == "aud")
        assert row["hit_rate"] == pytest.approx(n("is_hit") / n("is_go"))
        assert row["false_alarm_rate"] == pytest.approx(n("is_false_alarm") / n("is_nogo"), nan_ok=True)
        other = "is_aud_stim" if row["rewarded_modality"] == "vis" else "is_vis_stim"
        cross = dprime(n("is_hit"), n("is_go"), n(other, "is_target", "is_false_alarm"), n(other, "is_target"))
        assert row["cross_modality_dprime"] == pytest.approx(cross, nan_ok=True)
        sign = -1 if row["rewarded_modality"] == "aud" else 1
        assert row["signed_cross_modality_dprime"] == pytest.approx(sign * cross, nan_ok=True)
        for modality in ("vis", "aud"):
            want = dprime(n(f"is_{modality}_target", "is_hit"), n(f"is_{modality}_target"),
                          n(f"is_{modality}_nontarget", "is_false_alarm"), n(f"is_{modality}_nontarget"))
            assert row[f"{modality}_dprime"] == pytest.approx(want, nan_ok=True)
            for kind in ("target", "nontarget"):
                shown = n(f"is_{modality}_{kind}", negate=("is_instruction",))
                licked = n(f"is_{modality}_{kind}", "is_response", negate=("is_instruction", "is_reward_scheduled"))
                assert row[f"{modality}_{kind}_response_rate"] == pytest.approx(licked / shown if shown else math.nan,
                                                                             nan_ok=True)
    assert dprime(10, 10, 0, 10) == pytest.approx(2 * 1.6448536, rel=1e-4)  # 1 and 0 moved half a trial inside
    assert dprime(3, 10, 1, 10) == pytest.approx(-0.5244005 + 1.2815516, rel=1e-6)  # other rates as they are


def test_behaviour_is_that_of_a_trained_mouse() -> None:
    t = synth_session(0, n_units=10, duration_s=3000.0).tables["trials"]
    assert 300 <= t.height <= 450  # ~6.6 s per trial over 78 % of the session
    go = t.filter(pl.col("is_go"))
    other_target = t.filter(pl.col("is_nogo") & pl.col("is_target"))
    assert 0.75 <= go["is_response"].mean() <= 0.95  # type: ignore[operator]
    assert 0.08 <= other_target["is_response"].mean() <= 0.4  # type: ignore[operator]
    assert t["block_index"].n_unique() == 6


def test_epochs_and_rf_mapping(bundle: SessionBundle) -> None:
    epochs = bundle.tables["epochs"]
    assert epochs["epoch_index"].to_list() == list(range(epochs.height))
    assert epochs["start_time"].to_numpy().min() >= 0 and epochs["stop_time"].to_numpy().max() <= DURATION
    assert (epochs["start_time"].shift(-1).drop_nulls() >= epochs["stop_time"].head(epochs.height - 1)).all()
    task = epochs.filter(pl.col("script_name") == "DynamicRouting1").row(0, named=True)
    assert task["stop_time"] - task["start_time"] > 0.7 * DURATION and task["tags"] == ["task", "rewards"]
    iv = bundle.tables["intervals"]
    for name in ("VisRFMapping", "AudRFMapping", "performance"):
        rows = iv.filter(pl.col("interval_name") == name)
        assert rows.height > 0 and rows["interval_index"].to_list() == list(range(rows.height))
    rf_epochs = epochs.filter(pl.col("script_name") == "RFMapping")
    rf = iv.filter(pl.col("interval_name").str.ends_with("RFMapping"))
    inside = np.zeros(rf.height, dtype=bool)
    for start, stop in rf_epochs.select("start_time", "stop_time").iter_rows():
        inside |= ((rf["start_time"] >= start) & (rf["stop_time"] <= stop)).to_numpy()
    assert inside.all()
    vis = iv.filter(pl.col("interval_name") == "VisRFMapping")
    assert vis["freq"].is_null().all() and vis["n_trials"].is_null().all()
    grating = vis.filter(pl.col("is_small_field_grating"))
    assert grating["grating_x"].is_not_nan().all()
    assert (vis["is_small_field_grating"] ^ vis["is_full_field_flash"]).all()
    aud = iv.filter(pl.col("interval_name") == "AudRFMapping")
    assert aud["grating_x"].is_null().all()
    kinds = aud.select(pl.sum_horizontal(pl.col("is_pure_tone", "is_AM_noise", "is_white_noise").cast(pl.Int8)))
    assert (kinds.to_series() == 1).all()


def test_events_and_running(bundle: SessionBundle) -> None:
    ev = bundle.tables["events"]
    trials = bundle.tables["trials"]

    def times(name: str) -> np.ndarray:
        return ev.filter(pl.col("name") == name).sort("event_index")["event_time"].to_numpy()

    licks = times("licks")
    assert np.all(np.diff(licks) > 0)
    assert np.isin(trials.filter(pl.col("is_response"))["response_time"].to_numpy(), licks).all()
    np.testing.assert_array_equal(times("lick_sensor_rising"), licks)
    assert np.all((times("lick_sensor_falling") - licks > 0.029) & (times("lick_sensor_falling") - licks < 0.061))
    np.testing.assert_array_equal(times("rewards"), trials["reward_time"].drop_nans().to_numpy())
    rewards = ev.filter(pl.col("name") == "rewards")
    assert (rewards["value"] > 0).all() and ev.filter(pl.col("name") == "licks")["value"].is_null().all()
    for windows in trials.select("response_window_start_time", "response_window_stop_time").filter(
            ~trials["is_response"]).iter_rows():
        assert not np.any((licks > windows[0]) & (licks < windows[1]))
    frames = times("frametimes_face")
    assert np.all(np.diff(frames) > 0) and 1 / np.median(np.diff(frames)) == pytest.approx(60.0, rel=1e-3)
    assert ev["event_time"].min() >= 0 and ev["event_time"].max() <= DURATION  # type: ignore[operator]
    assert set(ev["nwb_path"].unique()) >= {"processing/behavior/BehavioralEvents/licks",
                                             "acquisition/BehavioralEvents/lick_sensor_rising"}
    quiet = synth_session(3, n_units=N_UNITS, duration_s=DURATION, seed=7, cameras=False).tables["events"]
    assert not quiet["name"].str.starts_with("frametimes").any()
    run = bundle.tables["timeseries"]
    assert set(run["name"]) == {"running_speed"} and set(run["unit"]) == {"cm/s"}
    t = run["sample_time"].to_numpy()
    assert np.all(np.diff(t) > 0) and 1 / np.median(np.diff(t)) == pytest.approx(60.0, rel=1e-3)
    assert run["value"].quantile(0.05) > -2  # type: ignore[operator]


def test_probes_electrodes_and_units_link_up(bundle: SessionBundle) -> None:
    el, units = bundle.tables["electrodes"], bundle.tables["units"]
    n_probes = bundle.tables["devices"].height
    assert 5 <= n_probes <= 6 and el.height == 384 * n_probes
    assert el["electrode_id"].to_list() == list(range(el.height))
    assert set(el["rel_x"]) == {11.0, 27.0, 43.0, 59.0} and el["channel"].max() == 383
    assert el.filter(pl.col("structure") == "root")["channel"].to_numpy().min() > 200  # out of the brain at the top
    tip = el.filter(pl.col("channel") == 0)["y"].to_numpy()
    top = el.filter(pl.col("channel") == 383)["y"].to_numpy()
    assert np.all(tip > top)  # +y is inferior: the tip is deepest
    assert units["unit_id"].n_unique() == N_UNITS and units["nwb_unit_id"].to_list() == list(range(N_UNITS))
    joined = units.join(el, left_on="peak_electrode", right_on="electrode_id", suffix="_el")
    assert joined.height == N_UNITS
    assert (joined["peak_channel"] == joined["channel"]).all()
    for col in ("location", "structure", "x", "y", "z", "electrode_group_name"):
        assert (joined[col] == joined[f"{col}_el"]).all(), col
    for row in units.select("unit_id", "electrode_group_name", "ks_unit_id", "peak_electrode", "electrodes",
                            "waveform_mean", "obs_intervals").iter_rows(named=True):
        assert row["unit_id"] == f"{bundle.session_id}_{row['electrode_group_name'][-1]}-{row['ks_unit_id']}"
        assert row["peak_electrode"] in row["electrodes"] and len(row["electrodes"]) == 8
        wave = np.asarray(row["waveform_mean"])
        assert wave.shape == (61, 8)
        assert wave.min() == wave[:, row["electrodes"].index(row["peak_electrode"])].min() < 0
        assert row["obs_intervals"] == [[0.0, DURATION]]


def test_unit_metrics(bundle: SessionBundle) -> None:
    u = bundle.tables["units"]
    assert (u["num_spikes"] == 0).sum() >= 1
    np.testing.assert_allclose(u["firing_rate"].to_numpy(), u["num_spikes"].to_numpy() / DURATION)
    firing = u.filter(pl.col("num_spikes") > 0)
    assert firing["firing_rate"].min() >= 0.05 and firing["firing_rate"].max() < 70  # type: ignore[operator]
    assert set(u["decoder_label"]) <= {"sua", "mua", "noise"} and set(u["quality"]) <= {"good", "noise"}
    rule = u.select(
        ((pl.col("isi_violations_ratio") <= 0.5) & (pl.col("amplitude_cutoff") <= 0.1)
         & (pl.col("presence_ratio") >= 0.7) & (pl.col("decoder_label") != "noise") & pl.col("is_not_drift"))
        .fill_null(False)).to_series()
    assert (rule == u["default_qc"]).all() and 0 < u["default_qc"].sum() < N_UNITS
    assert firing.select(pl.col("presence_ratio").median()).item() > 0.9
    assert firing["snr"].is_between(1, 10).all() and firing["amplitude_cutoff"].is_between(0, 0.5).all()


def test_spike_trains(bundle: SessionBundle, spikes: list[pl.DataFrame]) -> None:
    units = bundle.tables["units"]
    order: list[str] = []
    counts: dict[str, int] = {}
    for batch in spikes:
        per_unit = batch.group_by("unit_id", maintain_order=True).agg(
            n=pl.len(), first=pl.col("spike_time").first(), last=pl.col("spike_time").last(),
            min_isi=pl.col("spike_time").diff().min(), sorted=pl.col("spike_time").diff().drop_nulls().min() > 0,
            amplitude=pl.col("amplitude").median())
        assert per_unit["unit_id"].n_unique() == per_unit.height
        order.extend(per_unit["unit_id"])
        counts.update(zip(per_unit["unit_id"], per_unit["n"], strict=True))
        assert per_unit["first"].min() >= 0 and per_unit["last"].max() <= DURATION  # type: ignore[operator]
        multi = per_unit.filter(pl.col("n") > 1)
        assert multi["sorted"].all() and multi["min_isi"].min() >= 1.5e-3  # type: ignore[operator]
    assert len(order) == len(set(order))  # every unit's spikes come in one batch
    firing = units.filter(pl.col("num_spikes") > 0)
    assert order == firing["unit_id"].to_list()  # units-table order
    assert [counts[u] for u in order] == firing["num_spikes"].to_list()


def test_stimulus_locked_responses_and_options() -> None:
    b = synth_session(2, n_units=150, duration_s=900.0, n_probes=6)
    assert b.tables["devices"]["device_name"].to_list() == [f"probe{x}" for x in "ABCDEF"]
    units = b.tables["units"].filter(pl.col("structure").is_in(["VISp", "VISl", "VISam", "LP", "LGd"]))
    onsets = b.tables["trials"].filter(pl.col("is_vis_stim"))["stim_start_time"].to_numpy()
    spikes = pl.concat(list(b.spike_batches())).filter(pl.col("unit_id").is_in(units["unit_id"].implode()))
    rel = spikes["spike_time"].to_numpy()[None, :] - onsets[:, None]
    before = np.count_nonzero((rel > -0.2) & (rel < 0))
    after = np.count_nonzero((rel > 0.03) & (rel < 0.23))
    assert after > 1.3 * before
    assert synth_session(0, n_units=20, duration_s=120.0, n_probes=2).tables["devices"].height == 2
    with pytest.raises(ValueError, match="n_probes"):
        synth_session(0, n_probes=7)
