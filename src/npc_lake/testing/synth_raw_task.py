"""Synthetic TaskControl runs for raw DR session folders: what each task file holds, frame by frame, and
the true times of everything it triggered on the sync clock.

A run draws its display flips (~60 Hz with jitter), then its trials in frames the way DynamicRouting1,
RFMapping, OptoTagging and Spontaneous lay them out, and records the truth that
:mod:`npc_lake.sources.dr_task` must recover: times follow the definitions documented there, computed from
the true flips, the true display lag (to the photodiode at the top of the screen, plus the 8 ms the
screen takes to refresh down to its centre) and the true sound/laser/lick edges.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np

from npc_lake.sources.display_times import MONITOR_CENTER_DELAY_S as CENTER
from npc_lake.testing._synth_util import FloatArray
from npc_lake.testing.synth_task_params import NONE, dynamic_routing_params, sound_on_sync, taskcontrol_params
from npc_lake.testing.synth_trials import (
    AM_FREQ,
    GRATING,
    N_INSTRUCTION,
    NOISE_BAND,
    ORIENTATION,
    OTHER,
    SOUND_LEVEL,
    STIMULI,
    STIMULUS_P,
    TARGET,
    TONE_FREQ,
    _response_probability,
)

FRAME_RATE = 60.0
QUIESCENT_FRAMES, PRE_STIM_FIXED, PRE_STIM_MEAN, PRE_STIM_MAX = 90, 90, 60, 360
RESPONSE_WINDOW = (6, 60)
POST_RESPONSE_FRAMES, AUTO_REWARD_FRAME, VIS_STIM_FRAMES, SOUND_S = 180, 60, 30, 0.5
RF_STIM_FRAMES, RF_INTER_FRAMES, RF_SOUND_S = 15, 15, 0.25
COUNTS_PER_REV, WHEEL_RADIUS_CM = 8192, 4.69
OPTO_INTERVAL_FRAMES = 60
INCORRECT_TRIAL_REPEATS = 0  # stage 5's setting: no repeats, no timeouts
#: The production stage-5 task versions: the order of "ori" and "AMN" says which modality the first block rewards.
STAGE_5_VERSION = {"vis": "stage 5 ori AMN moving", "aud": "stage 5 AMN ori moving"}


@dataclass
class TaskRun:
    """One task file: its datasets and the truth on the sync clock."""

    task_name: str
    start: float
    values: dict[str, Any]
    flips: FloatArray
    sound: list[tuple[float, float]] = field(default_factory=list)
    laser: list[tuple[float, float]] = field(default_factory=list)
    licks: FloatArray = field(default_factory=lambda: np.empty(0))
    rewards: FloatArray = field(default_factory=lambda: np.empty(0))
    truth: dict[str, list[Any]] = field(default_factory=dict)
    running_speed: FloatArray = field(default_factory=lambda: np.empty(0))


def draw_flips(rng: np.random.Generator, start: float, stop: float) -> FloatArray:
    """Flip times from ``start`` to ``stop``: 60 Hz with sub-ms jitter and a rare long frame."""
    n = int((stop - start) * FRAME_RATE)
    intervals = 1 / FRAME_RATE + rng.normal(0.0, 2e-4, n - 1)
    intervals[rng.random(n - 1) < 1e-3] += 1 / FRAME_RATE  # a dropped frame now and then
    return start + np.concatenate([[0.0], np.cumsum(intervals)])


@dataclass(frozen=True)
class RunContext:
    """Who and where a run was recorded: what every TaskControl file of the session shares."""

    subject: str
    rig: str
    day: date

    @property
    def sound_on_sync(self) -> bool:
        """Whether the rig recorded its sounds on sync line 1 (from 2023-08-31). Before, only the NI-DAQ
        microphone stream did; the generator does not write that stream yet, so a sound's truth is then what
        the files can tell, and what npc_sessions reports without that stream: its triggering flip."""
        return sound_on_sync(self.day)


def _base(task_name: str, flips: FloatArray, context: RunContext, start_text: str, rng: np.random.Generator,
          counts: FloatArray | None = None) -> dict[str, Any]:
    """The parameters, frame intervals and wheel counts (drawn unless given) every TaskControl file holds."""
    if counts is None:
        counts, _ = _running(rng, flips.size)
    return taskcontrol_params(task_name=task_name, subject=context.subject, start_text=start_text, rig=context.rig,
                              day=context.day, n_frames=flips.size) | {
        "frameIntervals": np.diff(flips), "rotaryEncoderCount": counts}


def _running(rng: np.random.Generator, n: int) -> tuple[FloatArray, FloatArray]:
    """(cumulative encoder counts per frame, true speed in cm/s per frame)."""
    z = np.convolve(rng.standard_normal(n + 600), np.ones(300) / math.sqrt(300), mode="same")[300:300 + n]
    speed = 15.0 * np.logaddexp(0.0, 2.0 * z - 0.5)
    per_frame = speed / FRAME_RATE / (2 * math.pi * WHEEL_RADIUS_CM) * COUNTS_PER_REV
    counts = np.concatenate([[0.0], np.cumsum(np.round(per_frame[1:]))])
    cm_per_count = 2 * math.pi * WHEEL_RADIUS_CM / COUNTS_PER_REV
    true_speed = np.concatenate([[np.nan], np.diff(counts)]) * cm_per_count * FRAME_RATE
    return counts, true_speed


SOUND_VOLUME = 0.08  # DAQ output amplitude (V) of the calibrated task sounds


def _trial_stimulus_arrays(rng: np.random.Generator, stims: list[str]) -> dict[str, Any]:
    """DynamicRouting1's per-trial stimulus parameters: what each trial's grating or sound was.

    Visual trials carry the grating's orientation and contrast; sound trials the AM noise's band, modulation
    frequency, duration, volume and the seed of its noise, from which the waveform can be rebuilt.
    """
    n = len(stims)
    is_vis = np.array([s.startswith("vis") for s in stims], dtype=bool)
    is_sound = np.array([s.startswith("sound") for s in stims], dtype=bool)
    band = np.where(is_sound[:, None], np.array(NOISE_BAND, dtype=np.float64)[None, :], np.nan)
    return {
        "trialVisStimContrast": np.where(is_vis, GRATING["grating_contrast"], 0.0),
        "trialGratingOri": np.array([ORIENTATION.get(s, math.nan) for s in stims], dtype=np.float64),
        "trialSoundType": np.array([b"AM noise" if v else b"" for v in is_sound], dtype=object),
        "trialSoundFreq": band.reshape(n, 2),
        "trialSoundAM": np.array([AM_FREQ.get(s, math.nan) for s in stims], dtype=np.float64),
        "trialSoundSeed": rng.integers(0, 2**32, n, dtype=np.int64),
        "trialSoundVolume": np.where(is_sound, SOUND_VOLUME, 0.0),
        "trialSoundArray": np.empty(0, dtype=np.float64),
        "trialOptoOnsetFrame": np.empty(0), "trialOptoDur": np.empty(0), "trialOptoVoltage": np.empty(0),
        "trialOptoLabel": np.empty(0), "trialOptoDevice": np.empty(0), "trialOptoDelay": np.empty(0),
        "trialOptoOnRamp": np.empty(0), "trialOptoOffRamp": np.empty(0), "trialOptoSinFreq": np.empty(0),
        "trialOptoParamsIndex": np.empty(0), "trialGalvoX": np.empty(0), "trialGalvoY": np.empty(0),
        "trialGalvoDwellTime": np.empty(0),
    }


def spontaneous_run(rng: np.random.Generator, *, start: float, stop: float, context: RunContext,
                    start_text: str) -> TaskRun:
    """A Spontaneous file: frames only (grey screen)."""
    flips = draw_flips(rng, start, stop)
    return TaskRun("Spontaneous", start, _base("Spontaneous", flips, context, start_text, rng), flips)


def rf_mapping_run(rng: np.random.Generator, *, start: float, stop: float, context: RunContext,
                   start_text: str, lag: float) -> TaskRun:
    """An RFMapping file: 30-frame trials of small gratings, full-field flashes, tones and AM noise."""
    flips = draw_flips(rng, start, stop)
    period = RF_STIM_FRAMES + RF_INTER_FRAMES
    starts = np.arange(30, flips.size - period - 30, period)
    kind = rng.choice(4, starts.size, p=[0.55, 0.1, 0.2, 0.15])
    xy = np.where((kind == 0)[:, None], rng.choice([-400.0, -150.0, 150.0, 400.0], (starts.size, 2)), np.nan)
    ori = np.where(kind == 0, rng.choice(np.arange(8) * 45.0, starts.size), np.nan)
    contrast = np.where(kind == 1, rng.choice([-1.0, 1.0], starts.size), np.nan)
    tone = np.where(kind == 2, rng.choice(np.arange(4000.0, 16001.0, 1000.0), starts.size), np.nan)
    am = np.where(kind == 3, rng.choice([0.0, 12.0, 20.0, 40.0, 80.0], starts.size), np.nan)
    values = _base("RFMapping", flips, context, start_text, rng) | {
        "stimStartFrame": starts.astype(np.int32), "stimFrames": np.int32(RF_STIM_FRAMES),
        "interStimFrames": np.int32(RF_INTER_FRAMES), "soundDur": RF_SOUND_S, "trialVisXY": xy,
        "trialGratingOri": ori, "trialFullFieldContrast": contrast, "trialToneFreq": tone, "trialAMNoiseFreq": am}
    run = TaskRun("RFMapping", start, values, flips)
    truth: dict[str, list[Any]] = {k: [] for k in ("kind", "start_time", "stim_start_time", "stim_stop_time",
                                                   "stop_time")}
    for s, k in zip(starts.tolist(), kind.tolist(), strict=True):
        if k >= 2:
            onset = flips[s] + rng.uniform(0.012, 0.046)
            run.sound.append((onset, onset + RF_SOUND_S))
            heard = onset if context.sound_on_sync else flips[s]
            stim = (heard, heard + RF_SOUND_S)
        else:
            stim = (flips[s] + lag + CENTER, flips[s + RF_STIM_FRAMES] + lag + CENTER)
        for name, value in zip(truth, ("aud" if k >= 2 else "vis", flips[s], *stim, flips[s + period]), strict=True):
            truth[name].append(value)
    run.truth = truth
    return run


#: A rig's bregma-to-galvo calibration grid (mm from bregma to galvo command volts), linear over the skull.
def _bregma_to_galvo(bregma: FloatArray) -> FloatArray:
    """Galvo command voltages (X, Y) of bregma coordinates (mm): the rig's calibration, linear over the skull."""
    return np.column_stack([-0.4 + 0.16 * bregma[:, 0], -1.2 + 0.2 * bregma[:, 1]])


_GRID = np.stack(np.meshgrid(np.array([-5.0, -2.5, 0.0]), np.array([0.0, 2.5, 5.0]), indexing="ij"), -1).reshape(-1, 2)
_GRID_GALVO = _bregma_to_galvo(_GRID)
#: The calibration grid a rig's bregma-to-galvo file holds, as TaskControl saves it.
GALVO_CALIBRATION = {"bregmaX": _GRID[:, 0], "bregmaY": _GRID[:, 1], "galvoX": _GRID_GALVO[:, 0],
                     "galvoY": _GRID_GALVO[:, 1]}


def opto_tagging_run(rng: np.random.Generator, *, start: float, stop: float, context: RunContext,
                     start_text: str) -> TaskRun:
    """An OptoTagging file: laser pulses (10 ms or 200 ms) at two locations, every ~1 s."""
    flips = draw_flips(rng, start, stop)
    onsets = np.arange(30, flips.size - 90, OPTO_INTERVAL_FRAMES) + rng.integers(0, 7, 1)
    onsets = onsets[: max(0, onsets.size)]
    duration = rng.choice([0.01, 0.2], onsets.size)
    location = rng.choice(2, onsets.size)
    voltage = rng.choice([0.4, 0.8, 1.2], onsets.size)
    labels = np.array([b"probeC", b"V1"], dtype=object)
    bregma = np.array([[-2.9, 2.6], [-3.6, 2.2]])
    galvo = _bregma_to_galvo(bregma)
    poly = np.array([0.0, 4.0, 1.5])  # mW = 4 V + 1.5 (np.polyval order)
    levels = np.array([0.4, 0.8, 1.2])
    values = _base("OptoTagging", flips, context, start_text, rng) | {
        "trialOptoOnsetFrame": onsets.astype(np.int32), "trialOptoDur": duration, "trialOptoVoltage": voltage,
        "trialOptoLabel": labels[location], "trialGalvoVoltage": galvo[location],
        "optoTaggingLocs/label": labels, "optoTaggingLocs/bregmaX": bregma[:, 0],
        "optoTaggingLocs/bregmaY": bregma[:, 1], "optoTaggingLocs/bregma offset X": np.zeros(2),
        "optoTaggingLocs/bregma offset Y": np.zeros(2),
        "optoTaggingLocs/device": np.array([b"laser_488", b"laser_488"], dtype=object),
        "bregmaXY": bregma, "bregmaOffsetXY": np.zeros((2, 2)), "galvoVoltage": galvo,
        **{f"bregmaGalvoCalibrationData/{k}": v for k, v in GALVO_CALIBRATION.items()},
        "optoPowerCalibrationData/input (V)": levels, "optoPowerCalibrationData/power (mW)": np.polyval(poly, levels),
        "optoPowerCalibrationData/poly coefficients": poly, "optoPowerCalibrationData/offsetV": -0.375,
        "optoOffsetVoltage": -0.375, "optoPower": np.polyval(poly, levels), "optoVoltage": levels,
        "optoDur": np.array([0.01, 0.2]), "optoOnRamp": 0.001, "optoOffRamp": 0.001,
        "optoDev": b"laser_488", "optoInterval": np.int32(OPTO_INTERVAL_FRAMES), "optoIntervalJitter": np.int32(6),
        "trialsPerType": np.int32(25), "monBackgroundColor": -0.95, "taskVersion": NONE}
    run = TaskRun("OptoTagging", start, values, flips)
    rises = flips[onsets] + rng.uniform(2e-4, 8e-4, onsets.size)
    run.laser = [(a, a + d) for a, d in zip(rises.tolist(), duration.tolist(), strict=True)]
    run.truth = {"stim_start_time": rises.tolist(), "stim_stop_time": (rises + duration).tolist(),
                 "power": np.round(np.polyval([0.0, 4.0, 1.5], voltage), 3).tolist()}
    return run


def _lick_seen(flips: FloatArray, t: float) -> int:
    """The frame whose input read (just after the previous flip) first sees a lick at ``t``."""
    return int(np.searchsorted(flips, t, side="left")) + 1


def dynamic_routing_run(rng: np.random.Generator, *, start: float, stop: float, context: RunContext,
                        start_text: str, lag: float, aborted: bool = False) -> TaskRun:
    """A DynamicRouting1 file: context blocks, go/no-go trials, licks, rewards and the wheel.

    With ``aborted`` the file ends during a last trial: that trial's start-of-trial arrays have an entry,
    its end-of-trial arrays do not, and it is not in the truth.
    """
    flips = draw_flips(rng, start, stop)
    n_frames = flips.size
    n_blocks = 6 if n_frames > 6 * 1800 else max(1, n_frames // 1800)
    per_block = (n_frames - 120) // n_blocks
    first = str(rng.choice(["vis", "aud"]))
    modalities = [first if b % 2 == 0 else OTHER[first] for b in range(n_blocks)]
    arrays: dict[str, list[Any]] = {k: [] for k in (
        "trialStartFrame", "trialPreStimFrames", "trialStimStartFrame", "trialStim", "trialBlock",
        "trialAutoRewardScheduled", "trialVisStimFrames", "trialSoundDur", "trialGratingPhase", "trialResponse",
        "trialResponseFrame", "trialRewarded", "trialAutoRewarded", "trialEndFrame")}
    repeat_flags: list[bool] = []  # entry i: trial i repeats trial i - 1 (one entry more than trials)
    licks, lick_frames, reward_frames, violations = [], [], [], []
    truth: dict[str, list[Any]] = {}
    run = TaskRun("DynamicRouting1", start, {}, flips)

    def record(**values: Any) -> None:
        for name, value in values.items():
            truth.setdefault(name, []).append(value)

    frame, block, in_block, instruction_left = 60, -1, 0, 0
    prev_stim, prev_false_alarm, prev_repeats = "", False, 0
    while True:
        b = min(n_blocks - 1, (frame - 60) // per_block)
        if b != block:
            block, in_block, instruction_left, prev_false_alarm = b, 0, N_INSTRUCTION, False
        modality = modalities[b]
        instruction = instruction_left > 0
        # DynamicRouting1 repeats a trial after a false alarm, up to incorrectTrialRepeats times (0 in stage 5)
        repeat = not instruction and prev_false_alarm and prev_repeats < INCORRECT_TRIAL_REPEATS
        if instruction:
            stim, instruction_left = TARGET[modality], instruction_left - 1
        elif repeat:
            stim = prev_stim
        else:
            stim = str(rng.choice(STIMULI, p=STIMULUS_P))
        pre = PRE_STIM_FIXED + min(int(rng.exponential(PRE_STIM_MEAN)), PRE_STIM_MAX - PRE_STIM_FIXED)
        stim_frame = frame + pre
        if rng.random() < 0.15:  # a lick in the quiescent period restarts it
            seen = stim_frame - QUIESCENT_FRAMES + int(rng.integers(2, QUIESCENT_FRAMES))
            if seen + QUIESCENT_FRAMES < n_frames:
                licks.append(rng.uniform(flips[seen - 2], flips[seen - 1]))
                lick_frames.append(seen)
                violations.append(seen)
                stim_frame = seen + QUIESCENT_FRAMES
        end = stim_frame + RESPONSE_WINDOW[1] + POST_RESPONSE_FRAMES
        phase = float(rng.choice([0.0, 0.5])) if stim.startswith("vis") else math.nan
        starting = {"trialStartFrame": frame, "trialPreStimFrames": stim_frame - frame,
                    "trialStimStartFrame": stim_frame, "trialStim": stim, "trialBlock": b + 1,
                    "trialAutoRewardScheduled": instruction,
                    "trialVisStimFrames": VIS_STIM_FRAMES if stim.startswith("vis") else 0,
                    "trialSoundDur": SOUND_S if stim.startswith("sound") else 0.0, "trialGratingPhase": phase}
        repeat_flags.append(repeat)
        if end + 30 >= n_frames:
            if aborted:  # the run was stopped during this trial
                for name, value in starting.items():
                    arrays[name].append(value)
                flips = flips[: min(n_frames, max(frame + 5, stim_frame + 20))]
            break
        for name, value in starting.items():
            arrays[name].append(value)
        window = (flips[stim_frame + RESPONSE_WINDOW[0] - 1], flips[stim_frame + RESPONSE_WINDOW[1] - 2])
        responded = bool(rng.random() < _response_probability(stim, modality, instruction, in_block, b))
        response_time = response_frame = math.nan
        if responded:
            response_time = float(rng.uniform(window[0] + 0.05 * (window[1] - window[0]), window[1]))
            response_frame = _lick_seen(flips, response_time)
            burst = response_time + np.cumsum(np.clip(rng.normal(0.14, 0.015, int(rng.integers(1, 8))), 0.09, None))
            for t in [response_time, *burst.tolist()]:
                if t < flips[end - 1]:
                    licks.append(t)
                    lick_frames.append(_lick_seen(flips, t))
        go = stim == TARGET[modality]
        reward_frame = (stim_frame + AUTO_REWARD_FRAME if instruction else
                        int(response_frame) if go and responded else None)
        if reward_frame is not None:
            reward_frames.append(reward_frame)
        arrays["trialResponse"].append(responded)
        arrays["trialResponseFrame"].append(response_frame)
        arrays["trialRewarded"].append(reward_frame is not None)
        arrays["trialAutoRewarded"].append(instruction)
        arrays["trialEndFrame"].append(end)
        if stim.startswith("sound"):
            onset = flips[stim_frame] + rng.uniform(0.012, 0.046)
            run.sound.append((onset, onset + SOUND_S))
            heard = onset if context.sound_on_sync else flips[stim_frame]
            stim_times = (heard, heard + SOUND_S)
        else:
            stop_frame = stim_frame + (VIS_STIM_FRAMES if stim.startswith("vis") else 0)
            stim_times = (flips[stim_frame] + lag + CENTER, flips[stop_frame] + lag + CENTER)
        record(start_time=flips[stim_frame - QUIESCENT_FRAMES], stop_time=flips[end],
               quiescent_start_time=flips[stim_frame - QUIESCENT_FRAMES],
               quiescent_stop_time=flips[stim_frame - 2],  # the input read of the frame before the stimulus
               stim_start_time=stim_times[0], stim_stop_time=stim_times[1],
               response_window_start_time=flips[stim_frame + RESPONSE_WINDOW[0] - 1],
               response_window_stop_time=flips[stim_frame + RESPONSE_WINDOW[1]],
               task_control_response_time=flips[int(response_frame) - 1] if responded else math.nan,
               response_time=response_time, reward_time=flips[reward_frame] if reward_frame is not None else math.nan,
               post_response_window_start_time=flips[stim_frame + RESPONSE_WINDOW[1]] + lag + CENTER,
               post_response_window_stop_time=flips[end] + lag + CENTER, stim_name=stim, block_index=b,
               rewarded_modality=modality, trial_index_in_block=in_block, is_response=responded,
               is_repeat=repeat, is_reward_scheduled=instruction, is_rewarded=reward_frame is not None,
               grating_phase=phase)
        prev_stim = stim
        prev_false_alarm = responded and not go and stim != "catch"
        prev_repeats = prev_repeats + 1 if repeat else 0
        in_block += 1
        frame = end + 1 + int(rng.integers(0, 20))
    repeat_flags = repeat_flags[: len(arrays["trialEndFrame"]) + 1]
    counts, speed = _running(rng, flips.size)
    run.flips = flips
    run.values = (_base("DynamicRouting1", flips, context, start_text, rng, counts=counts)
                  | dynamic_routing_params(n_blocks=n_blocks, n_instruction=N_INSTRUCTION,
                                           task_version=STAGE_5_VERSION[first])
                  | {name: np.array(values, dtype=object if name == "trialStim" else None)
                     for name, values in arrays.items()}
                  | _trial_stimulus_arrays(rng, arrays["trialStim"])
                  | {
        "trialStim": np.array([s.encode() for s in arrays["trialStim"]], dtype=object),
        "trialRepeat": np.array(repeat_flags), "lickFrames": np.array(lick_frames, dtype=np.int32),
        "rewardFrames": np.array(reward_frames, dtype=np.int32),
        "quiescentViolationFrames": np.array(violations, dtype=np.int32),
        "blockStimRewarded": np.array([TARGET[m].encode() for m in modalities], dtype=object),
        "blockStim": np.array([b"['vis1', 'vis2', 'sound1', 'sound2']"] * n_blocks, dtype=object),
        "quiescentFrames": np.int32(QUIESCENT_FRAMES), "preStimFramesFixed": np.int32(PRE_STIM_FIXED),
        "responseWindow": np.array(RESPONSE_WINDOW, dtype=np.int32),
        "postResponseWindowFrames": np.int32(POST_RESPONSE_FRAMES),
        "autoRewardOnsetFrame": np.int32(AUTO_REWARD_FRAME),
        "visStimFrames": np.array([VIS_STIM_FRAMES], dtype=np.int32), "soundDur": np.array([SOUND_S]),
        "gratingOri/vis1": np.array([int(ORIENTATION["vis1"])], dtype=np.int32),
        "gratingOri/vis2": np.array([int(ORIENTATION["vis2"])], dtype=np.int32),
        "gratingSF": GRATING["grating_spatial_frequency"], "gratingSize": np.int32(GRATING["grating_size"]),
        "gratingTF": np.int32(2), "gratingType": GRATING["grating_type"].encode(),
        "visStimContrast": np.array([GRATING["grating_contrast"]]), "soundType": b"AM noise",
        "ampModFreq/sound1": np.int32(AM_FREQ["sound1"]), "ampModFreq/sound2": np.int32(AM_FREQ["sound2"]),
        "noiseFiltFreq/sound1": np.array(NOISE_BAND, dtype=np.int32),
        "noiseFiltFreq/sound2": np.array(NOISE_BAND, dtype=np.int32),
        "toneFreq/sound1": np.int32(TONE_FREQ["sound1"]), "toneFreq/sound2": np.int32(TONE_FREQ["sound2"]),
        "soundLevel": np.array([SOUND_LEVEL]), "soundVolume": np.array([SOUND_VOLUME]),
        "rewardSize": np.full(len(reward_frames), 0.005),
    })
    order = np.argsort(licks)
    run.licks = np.asarray(licks, dtype=np.float64)[order]
    run.values["lickFrames"] = np.asarray(lick_frames, dtype=np.int32)[order]
    run.rewards = flips[np.asarray(reward_frames, dtype=np.int64)] if reward_frames else np.empty(0)
    run.running_speed = speed
    run.truth = truth
    return run
