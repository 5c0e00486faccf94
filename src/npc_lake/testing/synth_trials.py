"""Synthetic behaviour of a Dynamic Routing session: task trials, block performance and RF mapping.

The task follows DynamicRouting1: blocks alternate which modality's target (``vis1`` or ``sound1``)
is rewarded; each block opens with free-reward instruction trials of the newly rewarded target; a miss
is followed by a repeat of the same stimulus; a false alarm adds a timeout. Outcome flags follow the
DR trials tables (npc_sessions): instruction (reward-scheduled) trials of the rewarded target are go trials.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any

import numpy as np
import polars as pl

from npc_lake.schema.session import INTERVALS
from npc_lake.schema.stimuli import STIMULI as STIMULI_TABLE
from npc_lake.schema.trials import TRIALS
from npc_lake.testing._synth_util import BoolArray, FloatArray, frame, jitter

STIMULI = ("vis1", "vis2", "sound1", "sound2", "catch")
STIMULUS_P = (0.225, 0.225, 0.225, 0.225, 0.1)
TARGET = {"vis": "vis1", "aud": "sound1"}
OTHER = {"vis": "aud", "aud": "vis"}
N_INSTRUCTION = 5  # free-reward trials at the start of every block
MAX_REPEATS = 3  # consecutive repeats of a missed stimulus
QUIESCENT_S, STIM_S, WINDOW_START_S, WINDOW_STOP_S, POST_WINDOW_S, TIMEOUT_S, TAIL_S = 1.5, 0.5, 0.1, 1.0, 2.0, 3.0, 1.0
MEAN_TRIAL_S = 6.6
RF_TRIAL_S, RF_STIM_S = 0.5, 0.25
RF_GRID_X = (np.arange(6) - 2.5) * 319.4891  # the 6 x 4 grid of DR RF mapping (pixels from screen centre)
RF_GRID_Y = (np.arange(4) - 1.5) * 292.4818
RF_ORIENTATIONS = np.arange(8) * 45.0
RF_TONES = np.arange(4000.0, 16001.0, 1000.0)
RF_AM_FREQS = np.array([12.0, 20.0, 40.0, 80.0])


#: How the synthetic task defines its stimuli (DR's values: 50° square-wave gratings at 0.04 cycles/°, drifting at
#: 2 cycles/s in "moving" versions; 6 and 10 kHz tones, or noise modulated at 12 and 70 Hz).
GRATING: dict[str, Any] = {"grating_spatial_frequency": 0.04, "grating_size": 50.0, "grating_contrast": 1.0,
                           "grating_type": "sqr"}
ORIENTATION = {"vis1": 0.0, "vis2": 90.0}
TONE_FREQ = {"sound1": 6000.0, "sound2": 10000.0}
AM_FREQ = {"sound1": 12.0, "sound2": 70.0}
NOISE_BAND = (2000.0, 20000.0)
SOUND_SAMPLE_RATE, SOUND_LEVEL = 48000.0, 68.0


def synth_stimuli(session_id: str, *, task_version: str) -> pl.DataFrame:
    """The ``stimuli`` rows of a task version: AM noise when it says "AMN", else tones; gratings drift when it
    says "moving"."""
    am_noise = "AMN" in task_version
    rows: dict[str, list[Any]] = defaultdict(list)
    for name in ("sound1", "sound2", "vis1", "vis2"):
        vis = name.startswith("vis")
        values: dict[str, Any] = {
            "stim_name": name, "modality": "vis" if vis else "aud", "duration": STIM_S,
            **({**GRATING, "grating_orientation": ORIENTATION[name],
                "grating_temporal_frequency": 2.0 if "moving" in task_version else 0.0} if vis else
               {"sound_type": "AM noise" if am_noise else "tone", "tone_freq": None if am_noise else TONE_FREQ[name],
                "am_freq": AM_FREQ[name] if am_noise else None,
                "noise_low_freq": NOISE_BAND[0] if am_noise else None,
                "noise_high_freq": NOISE_BAND[1] if am_noise else None,
                "sound_sample_rate": SOUND_SAMPLE_RATE, "sound_level": SOUND_LEVEL}),
        }
        for column in STIMULI_TABLE.column_names[1:]:
            rows[column].append(values.get(column))
    return frame(STIMULI_TABLE, {"session_id": session_id, **rows}, 4)


@dataclass(frozen=True)
class Task:
    """What :func:`synth_task` makes: the trials table, one performance row per block (from the generator's
    own tally of what it drew, the ground truth for recomputing it from the trials), and event times."""

    trials: pl.DataFrame
    performance: pl.DataFrame
    lick_times: FloatArray
    reward_times: FloatArray
    vis_onsets: FloatArray
    aud_onsets: FloatArray


@dataclass
class _Block:
    """What the generator did in one block, tallied as it went: the ground truth of its performance row, by
    npc_sessions' formulas (see :mod:`npc_lake.sources.dr_performance`)."""

    modality: str
    start: float = math.inf
    stop: float = -math.inf
    trials: int = 0
    responses: int = 0
    contingent: int = 0
    tally: Counter[str] = field(default_factory=Counter)

    def record(self, *, start: float, stop: float, stim: str, responded: bool, instruction: bool) -> None:
        self.start, self.stop = min(self.start, start), max(self.stop, stop)
        go = stim == TARGET[self.modality]
        nogo = not go and stim != "catch"
        other_target = stim == TARGET[OTHER[self.modality]]
        self.trials += 1
        self.responses += responded
        self.contingent += go and responded and not instruction
        for key, happened in (("go", go), ("hit", go and responded), ("nogo", nogo), ("fa", nogo and responded),
                              ("catch", stim == "catch"), ("catch_r", stim == "catch" and responded),
                              ("other", other_target), ("other_fa", other_target and responded),
                              (f"n_{stim}", True), (f"hit_{stim}", go and responded),
                              (f"fa_{stim}", nogo and responded), (f"shown_{stim}", not instruction),
                              (f"licked_{stim}", not instruction and responded)):
            self.tally[key] += happened

    def ratio(self, numerator: str, denominator: str) -> float:
        return self.tally[numerator] / self.tally[denominator] if self.tally[denominator] else math.nan

    def dprime(self, hit: str, go: str, fa: str, nogo: str) -> float:
        """z(hit rate) - z(false-alarm rate); a rate of exactly 0 or 1 is moved half a trial inside."""
        if not (self.tally[go] and self.tally[nogo]):
            return math.nan
        z = []
        for k, n in ((self.tally[hit], self.tally[go]), (self.tally[fa], self.tally[nogo])):
            rate = 0.5 / n if k == 0 else 1 - 0.5 / n if k == n else k / n
            z.append(NormalDist().inv_cdf(rate))
        return z[0] - z[1]


def _performance(session_id: str, blocks: list[_Block]) -> pl.DataFrame:
    """The performance intervals rows of the generator's tallies."""
    rows: dict[str, list[Any]] = defaultdict(list)
    held = [(index, block) for index, block in enumerate(blocks) if block.trials]
    for interval_index, (index, block) in enumerate(held):
        cross = block.dprime("hit", "go", "other_fa", "other")
        values = {
            "interval_index": interval_index, "block_index": index, "start_time": block.start, "stop_time": block.stop,
            "n_trials": block.trials, "n_responses": block.responses, "n_hits": block.tally["hit"],
            "n_contingent_rewards": block.contingent, "hit_rate": block.ratio("hit", "go"),
            "false_alarm_rate": block.ratio("fa", "nogo"), "catch_response_rate": block.ratio("catch_r", "catch"),
            "rewarded_modality": block.modality, "is_first_block_aud": blocks[0].modality == "aud",
            "cross_modality_dprime": cross,
            "signed_cross_modality_dprime": -cross if block.modality == "aud" else cross,
            "vis_dprime": block.dprime("hit_vis1", "n_vis1", "fa_vis2", "n_vis2"),
            "aud_dprime": block.dprime("hit_sound1", "n_sound1", "fa_sound2", "n_sound2"),
            **{f"{name}_response_rate": block.ratio(f"licked_{stim}", f"shown_{stim}")
               for name, stim in (("vis_target", "vis1"), ("vis_nontarget", "vis2"), ("aud_target", "sound1"),
                                  ("aud_nontarget", "sound2"))},
        }
        for name, value in values.items():
            rows[name].append(value)
    return frame(INTERVALS, {"session_id": session_id, "interval_name": "performance", **rows}, len(held))


def _response_probability(stim: str, modality: str, instruction: bool, index_in_block: int, block: int) -> float:
    """How likely a trained mouse licks: mostly to the rewarded target, sometimes to the old one."""
    if instruction:
        return 0.95
    if stim == "catch":
        return 0.04
    if stim == TARGET[modality]:
        return 0.87
    if stim == TARGET[OTHER[modality]]:
        return 0.45 if block > 0 and index_in_block < N_INSTRUCTION + 8 else 0.17
    return 0.06


def synth_task(rng: np.random.Generator, *, session_id: str, start: float, stop: float) -> Task:
    """Trials of a DynamicRouting1 epoch running from ``start`` to ``stop`` (s).

    Parameters
    ----------
    rng
        The generator to draw from (consumed in a fixed order, so results are reproducible).
    session_id
        Written into every row.
    start, stop
        The task epoch; every trial lies inside it.
    """
    estimate = (stop - start) / MEAN_TRIAL_S
    n_blocks = 6 if estimate >= 60 else max(1, int(estimate // 10))
    block_s = (stop - start) / n_blocks
    first = str(rng.choice(["vis", "aud"]))
    modalities = [first if b % 2 == 0 else OTHER[first] for b in range(n_blocks)]
    col: dict[str, list[Any]] = defaultdict(list)
    blocks: list[_Block] = []
    licks: list[float] = []
    block, in_block, instruction_left = -1, 0, 0
    prev_stim, prev_missed, prev_repeat = "", False, 0
    t = start + rng.uniform(1.0, 3.0)
    while True:
        trial_start = t
        b = min(n_blocks - 1, int((trial_start - start) / block_s))
        if b != block:
            block, in_block, instruction_left, prev_missed = b, 0, N_INSTRUCTION, False
        modality = modalities[b]
        instruction, repeat = instruction_left > 0, 0
        if instruction:
            stim = TARGET[modality]
            instruction_left -= 1
        elif prev_missed and prev_repeat < MAX_REPEATS:
            stim, repeat = prev_stim, prev_repeat + 1
        else:
            stim = str(rng.choice(STIMULI, p=STIMULUS_P))
        trial_licks: list[float] = []
        quiescent_start = trial_start
        if rng.random() < 0.2:  # a lick restarted the quiescent period
            quiescent_start = trial_start + rng.uniform(0.3, 2.5)
            trial_licks.append(quiescent_start - rng.uniform(0.004, 0.03))
        onset = quiescent_start + QUIESCENT_S + jitter(rng)
        catch = stim == "catch"
        window_start = onset + WINDOW_START_S + jitter(rng, low=1e-4, high=2e-3)
        window_stop = onset + WINDOW_STOP_S + jitter(rng, low=1e-4, high=2e-3)
        responded = bool(rng.random() < _response_probability(stim, modality, instruction, in_block, b))
        go = stim == TARGET[modality] and not instruction
        false_alarm = responded and not catch and stim != TARGET[modality]
        reward = window_start + jitter(rng, low=2e-3, high=2e-2) if instruction else math.nan
        response = tc_response = math.nan
        if responded:
            earliest = reward + 0.08 if instruction else window_start + 0.04
            response = min(earliest + rng.gamma(3.0, 0.08), window_stop - rng.uniform(0.005, 0.03))
            tc_response = onset + math.ceil((response - onset) * 60.0) / 60.0 + jitter(rng, low=1e-4, high=1e-3)
            if go:
                reward = response + jitter(rng, low=5e-3, high=2e-2)
            n_licks = int(rng.integers(5, 13)) if go or instruction else int(rng.integers(1, 5))
            intervals = np.clip(1.0 / rng.uniform(5.0, 8.0) + rng.normal(0.0, 0.012, n_licks - 1), 0.09, None)
            trial_licks.extend(response + np.concatenate([[0.0], np.cumsum(intervals)]))
        post_stop = window_stop + POST_WINDOW_S + jitter(rng)
        timeout_start = post_stop if false_alarm else math.nan
        timeout_stop = post_stop + TIMEOUT_S + jitter(rng) if false_alarm else math.nan
        trial_stop = (timeout_stop if false_alarm else post_stop) + TAIL_S + jitter(rng)
        if trial_stop > stop - 0.5:
            break
        licks.extend(x for x in trial_licks if x < trial_stop - 0.05)
        while len(blocks) <= b:
            blocks.append(_Block(modalities[len(blocks)]))
        blocks[b].record(start=trial_start, stop=trial_stop, stim=stim, responded=responded, instruction=instruction)
        values = {
            "start_time": trial_start, "stop_time": trial_stop, "quiescent_start_time": quiescent_start,
            "quiescent_stop_time": onset, "stim_start_time": math.nan if catch else onset,
            "stim_stop_time": math.nan if catch else onset + STIM_S + jitter(rng),
            "response_window_start_time": window_start, "response_window_stop_time": window_stop,
            "task_control_response_time": tc_response, "response_time": response, "reward_time": reward,
            "timeout_start_time": timeout_start, "timeout_stop_time": timeout_stop,
            "post_response_window_start_time": window_stop, "post_response_window_stop_time": post_stop,
            "stim_name": stim, "block_index": b, "rewarded_modality": modality, "trial_index_in_block": in_block,
            "grating_phase": float(rng.choice([0.0, 0.25, 0.5, 0.75])) if stim.startswith("vis") else math.nan,
            "repeat_index": repeat, "is_response": responded, "is_instruction": instruction,
            "is_block_switch": b > 0 and in_block == 0,
        }
        for name, value in values.items():
            col[name].append(value)
        prev_stim, prev_missed, prev_repeat = stim, go and not responded, repeat
        in_block += 1
        t = trial_stop + rng.uniform(0.3, 1.5)
    trials = _trials_frame(session_id, col)
    stim_name = trials["stim_name"].to_numpy()
    stim_start = trials["stim_start_time"].to_numpy()
    rewards = trials["reward_time"].to_numpy()
    return Task(
        trials=trials,
        performance=_performance(session_id, blocks),
        lick_times=np.sort(np.asarray(licks, dtype=np.float64)),
        reward_times=rewards[~np.isnan(rewards)],
        vis_onsets=stim_start[np.isin(stim_name, ["vis1", "vis2"])],
        aud_onsets=stim_start[np.isin(stim_name, ["sound1", "sound2"])],
    )


def _trials_frame(session_id: str, col: dict[str, list[Any]]) -> pl.DataFrame:
    """The trials frame: the per-trial values plus every flag derived from them."""
    n = len(col["start_time"])
    stim = np.asarray(col["stim_name"], dtype=object)
    modality = np.asarray(col["rewarded_modality"], dtype=object)
    response = np.asarray(col["is_response"], dtype=bool)
    instruction = np.asarray(col["is_instruction"], dtype=bool)
    rewarded_target = np.where(modality == "vis", "vis1", "sound1")
    catch = stim == "catch"
    go = stim == rewarded_target  # instruction trials included, as DR's trials tables count them
    nogo = (stim != rewarded_target) & ~catch
    hit, miss, false_alarm, correct_reject = go & response, go & ~response, nogo & response, nogo & ~response
    flags: dict[str, BoolArray] = {
        "is_correct": hit | correct_reject, "is_incorrect": miss | false_alarm, "is_hit": hit,
        "is_false_alarm": false_alarm, "is_correct_reject": correct_reject, "is_miss": miss, "is_go": go,
        "is_nogo": nogo, "is_rewarded": hit | instruction, "is_noncontingent_reward": instruction,
        "is_contingent_reward": hit & ~instruction, "is_reward_scheduled": instruction,
        "is_aud_stim": np.isin(stim, ["sound1", "sound2"]), "is_vis_stim": np.isin(stim, ["vis1", "vis2"]),
        "is_catch": catch, "is_target": np.isin(stim, ["vis1", "sound1"]), "is_aud_target": stim == "sound1",
        "is_vis_target": stim == "vis1", "is_nontarget": np.isin(stim, ["vis2", "sound2"]),
        "is_aud_nontarget": stim == "sound2", "is_vis_nontarget": stim == "vis2",
        "is_vis_rewarded": modality == "vis", "is_aud_rewarded": modality == "aud",
        "is_repeat": np.asarray(col["repeat_index"]) > 0, "is_opto": np.zeros(n, dtype=bool),
        "is_single_opto_location": np.zeros(n, dtype=bool), "is_task_control_correct": hit | correct_reject,
    }
    no_opto = np.full(n, np.nan)
    columns: dict[str, Any] = {
        "session_id": session_id, "trial_index": np.arange(n), **col, **flags,
        "opto_start_time": no_opto, "opto_stop_time": no_opto, "opto_wavelength": no_opto,
        "opto_duration": no_opto, "opto_power": no_opto,
    }
    return frame(TRIALS, columns, n)


def synth_rf_mapping(rng: np.random.Generator, *, session_id: str,
                     windows: Sequence[tuple[float, float]]) -> tuple[pl.DataFrame, FloatArray, FloatArray]:
    """``VisRFMapping`` and ``AudRFMapping`` intervals filling the RFMapping epochs ``windows``.

    Returns
    -------
    tuple
        The intervals rows (both names), and the visual and auditory stimulus onsets (s).
    """
    parts: dict[str, list[Any]] = defaultdict(list)
    for w_start, w_stop in windows:
        t0 = w_start + rng.uniform(0.5, 1.5)
        n_max = max(0, int((w_stop - t0) / RF_TRIAL_S) + 1)
        durations = RF_TRIAL_S + jitter(rng, n_max, low=1e-3, high=2e-2)
        starts = t0 + np.concatenate([[0.0], np.cumsum(durations)[:-1]])[:n_max]
        n = int(np.count_nonzero(starts + durations <= w_stop - 0.1))
        starts = starts[:n]
        vis = rng.random(n) < 0.78
        grating = vis & (rng.random(n) < 0.85)
        kind = rng.random(n)
        parts["is_vis"].append(vis)
        parts["start_time"].append(starts)
        parts["trial_index"].append(np.arange(n))
        stim_start = starts + np.where(vis, 0.0, rng.uniform(0.01, 0.05, n))
        parts["stim_start_time"].append(stim_start)
        parts["stim_stop_time"].append(stim_start + RF_STIM_S + jitter(rng, n, low=1e-4, high=1e-3))
        parts["stop_time"].append(starts + RF_TRIAL_S + jitter(rng, n, low=1e-4, high=5e-4))
        parts["is_small_field_grating"].append(grating)
        parts["grating_orientation"].append(np.where(grating, rng.choice(RF_ORIENTATIONS, n), np.nan))
        parts["grating_x"].append(np.where(grating, rng.choice(RF_GRID_X, n), np.nan))
        parts["grating_y"].append(np.where(grating, rng.choice(RF_GRID_Y, n), np.nan))
        parts["is_full_field_flash"].append(vis & ~grating)
        parts["flash_contrast"].append(np.where(vis & ~grating, rng.choice([-1.0, 1.0], n), np.nan))
        parts["is_white_noise"].append(kind < 0.1)
        parts["is_pure_tone"].append((kind >= 0.1) & (kind < 0.55))
        parts["is_AM_noise"].append(kind >= 0.55)
        parts["freq"].append(np.where(kind < 0.1, np.nan,
                                      np.where(kind < 0.55, rng.choice(RF_TONES, n), rng.choice(RF_AM_FREQS, n))))
    data = {k: np.concatenate(v) if v else np.empty(0) for k, v in parts.items()}
    is_vis = data.pop("is_vis").astype(bool) if data else np.empty(0, dtype=bool)
    common = ("start_time", "stop_time", "stim_start_time", "stim_stop_time", "trial_index")
    own = {"VisRFMapping": ("is_small_field_grating", "grating_orientation", "grating_x", "grating_y",
                            "is_full_field_flash", "flash_contrast"),
           "AudRFMapping": ("is_white_noise", "is_pure_tone", "is_AM_noise", "freq")}
    frames = []
    for name, rows in (("VisRFMapping", is_vis), ("AudRFMapping", ~is_vis)):
        n = int(np.count_nonzero(rows))
        cols = {c: data[c][rows] for c in (*common, *own[name])} if data else {}
        frames.append(frame(INTERVALS, {"session_id": session_id, "interval_name": name,
                                        "interval_index": np.arange(n), **cols}, n))
    onsets = data.get("stim_start_time", np.empty(0))
    return pl.concat(frames), onsets[is_vis], onsets[~is_vis]
