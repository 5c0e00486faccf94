"""DynamicRouting1 task files to the DR trials table, on the sync clock.

The definitions are npc_sessions 0.0.291's (the reference for DR tables). With ``F`` a trial's stimulus
frame, ``flip[i]`` the sync time of frame ``i``'s flip (its vsync falling edge), ``read[i]`` = ``flip[i - 1]``
the time frame ``i`` read its inputs, and ``shown[i]`` the time frame ``i`` reached the centre of the
screen (:mod:`npc_lake.sources.display_times`), the columns are:

- ``start_time`` = ``quiescent_start_time`` = ``flip[F - quiescentFrames]`` (the last, unviolated quiescent
  period; the inter-trial interval is not part of a trial); ``quiescent_stop_time`` = ``read[F - 1]``;
- ``stim_start_time``: visual and catch trials ``shown[F]``; auditory trials the first rising edge of the
  sound line within 0.2 s after ``flip[F]`` (``flip[F]`` without a sound line);
  ``stim_stop_time``: ``shown[F + trialVisStimFrames]`` (catch: the start), for sounds the onset +
  ``trialSoundDur`` (the length of the waveform the task played);
- ``response_window_start_time`` = ``read[F + responseWindow[0]]``, ``response_window_stop_time`` =
  ``flip[F + responseWindow[1]]``;
- ``timeout_start_time`` = ``read[T]`` and ``timeout_stop_time`` = ``shown[T + incorrectTimeoutFrames]``
  with ``T = F + responseWindow[1] + 1``, for a trial the next of which is a repeat (a false alarm);
- ``post_response_window_start_time`` = ``shown[P]`` with ``P`` the timeout's stop frame or
  ``F + responseWindow[1]``; ``post_response_window_stop_time`` = ``shown[P + postResponseWindowFrames]``;
- ``task_control_response_time`` = ``read[trialResponseFrame]``; ``response_time`` = the first
  lick-sensor rising edge inside the response window (the task's time without a lick line);
- ``reward_time`` = ``flip[r]`` for the first of ``rewardFrames`` from ``F`` to the trial's end frame;
- ``stop_time`` = ``flip[trialEndFrame]``.

Only completed trials are kept: ``len(trialEndFrame)`` of them (a trial cut short by the end of the run
has start-of-trial entries only). ``trialRepeat`` has one more entry than trials: entry ``i`` says whether
trial ``i`` repeats trial ``i - 1``. Outcome flags follow the DR definitions: go = the stimulus is the
block's rewarded target (reward-scheduled trials included), no-go = any other stimulus but catch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from npc_lake.errors import SourceError
from npc_lake.sources.task_hdf5 import TaskFile
from npc_lake.sources.timing import first_edge_after

FloatArray = np.ndarray[Any, np.dtype[np.float64]]
#: Latest a sound or laser edge may follow its triggering flip (s).
TRIGGER_WINDOW = 0.2


@dataclass(frozen=True)
class FrameClock:
    """Sync times of one task file's frames and the lines its events were recorded on.

    ``flips`` are the frames' vsync falling edges (when each flip returned); ``display`` when each frame
    reached the centre of the screen (:func:`npc_lake.sources.display_times.frame_display_times`, or vsync
    plus a constant lag without a usable photodiode).
    """

    flips: FloatArray
    display: FloatArray
    sound_edges: tuple[FloatArray, FloatArray] | None = None
    laser_edges: tuple[FloatArray, FloatArray] | None = None
    lick_times: FloatArray | None = None

    def flip(self, frames: np.ndarray[Any, Any], uri: str) -> FloatArray:
        """Flip times of ``frames`` (NaN where a frame is NaN); a frame past the file's end is an error."""
        return _at(self.flips, frames, uri)

    def input_read(self, frames: np.ndarray[Any, Any], uri: str) -> FloatArray:
        """When frame ``f`` read its inputs (licks, wheel): just after the previous frame's flip; NaN for
        frame 0."""
        frames = np.asarray(frames, dtype=np.float64)
        return _at(self.flips, np.where(frames >= 1, frames - 1, np.nan), uri)

    def shown(self, frames: np.ndarray[Any, Any], uri: str) -> FloatArray:
        """When ``frames`` reached the centre of the screen."""
        return _at(self.display, frames, uri)

    def edges_after(self, edges: tuple[FloatArray, FloatArray] | None, triggers: FloatArray,
                    fallback_duration: FloatArray) -> tuple[FloatArray, FloatArray]:
        """(onset, offset) of the pulse on a line that follows each trigger; the trigger and a nominal
        duration where the line has none."""
        if edges is None:
            return triggers, triggers + fallback_duration
        onset = first_edge_after(edges[0], triggers, within=TRIGGER_WINDOW)
        offset = first_edge_after(edges[1], onset, within=10.0)
        missing = np.isnan(onset)
        onset = np.where(missing, triggers, onset)
        offset = np.where(np.isnan(offset), onset + fallback_duration, offset)
        return onset, offset


def _at(times: FloatArray, frames: np.ndarray[Any, Any], uri: str) -> FloatArray:
    frames = np.asarray(frames, dtype=np.float64)
    valid = np.isfinite(frames)
    if valid.any() and (frames[valid].max() >= times.size or frames[valid].min() < 0):
        raise SourceError(uri, f"a frame index ({int(frames[valid].max())}) is outside the file's "
                          f"{times.size} frames")
    out = np.full(frames.shape, np.nan)
    out[valid] = times[frames[valid].astype(np.int64)]
    return out


def _trial_count(task: TaskFile) -> int:
    if task.has("trialEndFrame"):
        return int(task.array("trialEndFrame").size)
    lengths = [task.array(name).size for name in ("trialStimStartFrame", "trialResponse") if task.has(name)]
    if not lengths:
        raise SourceError(task.uri, "no per-trial arrays (trialStimStartFrame / trialEndFrame)")
    return min(lengths)


def _first_in_windows(times: FloatArray, starts: FloatArray, stops: FloatArray) -> FloatArray:
    """The first of sorted ``times`` inside each [start, stop] (NaN if none)."""
    index = np.searchsorted(times, starts, side="left")
    ok = index < times.size
    candidate = np.where(ok, times[np.minimum(index, max(times.size - 1, 0))] if times.size else np.nan, np.nan)
    return np.where(ok & (candidate <= stops), candidate, np.nan)


def _in_block_index(block: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    change = np.concatenate([[True], block[1:] != block[:-1]])
    starts = np.flatnonzero(change)
    return np.arange(block.size) - np.repeat(starts, np.diff(np.append(starts, block.size)))


def _modality(stim: str) -> str:
    return "vis" if "vis" in stim else "aud" if ("sound" in stim or "aud" in stim) else stim.rstrip("0123456789")


def trials_frame(task: TaskFile, clock: FrameClock) -> pl.DataFrame:
    """The trials of one DynamicRouting1 file (see the module docstring for every definition).

    Raises
    ------
    SourceError
        The file lacks the per-trial arrays, or they point at frames it does not have.
    """
    n = _trial_count(task)
    uri = task.uri

    def per_trial(name: str, dtype: Any = None, default: Any = None) -> np.ndarray[Any, Any]:
        if not task.has(name):
            if default is None:
                raise SourceError(uri, f"DynamicRouting1 file lacks {name}")
            return np.full(n, default)
        values = task.array(name, dtype=dtype)
        if values.shape[0] < n:
            raise SourceError(uri, f"{name} has {values.shape[0]} entries for {n} completed trials")
        return values[:n]

    stim = np.array(task.strings("trialStim")[:n], dtype=object)
    block = per_trial("trialBlock", np.int64) - 1
    rewarded = np.array(task.strings("blockStimRewarded"), dtype=object)
    if block.size and (block.min() < 0 or block.max() >= rewarded.size):
        raise SourceError(uri, "trialBlock points past blockStimRewarded")
    rewarded_stim = rewarded[block] if block.size else np.array([], dtype=object)
    frame = per_trial("trialStimStartFrame", np.float64)
    window = task.array("responseWindow", dtype=np.int64)
    quiescent = int(task.value("quiescentFrames", 90))
    post = int(task.value("postResponseWindowFrames", 180))
    vis_frames = per_trial("trialVisStimFrames", np.float64, 0.0)
    sound_s = per_trial("trialSoundDur", np.float64, 0.0)
    response = per_trial("trialResponse", bool)
    end = per_trial("trialEndFrame", np.float64)
    is_vis = np.array(["vis" in s for s in stim], dtype=bool)
    is_aud = np.array(["sound" in s for s in stim], dtype=bool)
    is_catch = stim == "catch"
    flip = clock.flip(frame, uri)
    sound_on, _ = clock.edges_after(clock.sound_edges, flip, sound_s)
    stim_start = np.where(is_aud, sound_on, clock.shown(frame, uri))
    stim_stop = np.where(is_aud, sound_on + sound_s, clock.shown(frame + np.where(is_vis, vis_frames, 0), uri))
    window_start = clock.input_read(frame + window[0], uri)
    window_stop = clock.flip(frame + window[1], uri)
    response_frame = per_trial("trialResponseFrame", np.float64, np.nan)
    tc_response = clock.input_read(np.where(response, response_frame, np.nan), uri)
    response_time = (_first_in_windows(np.sort(clock.lick_times), window_start, window_stop)
                     if clock.lick_times is not None else tc_response)
    rewarded_trial = per_trial("trialRewarded", bool)
    reward_frames = np.sort(task.array("rewardFrames", dtype=np.float64))
    first_reward = _first_in_windows(reward_frames, frame, end) if reward_frames.size else np.full(n, np.nan)
    reward_time = np.where(rewarded_trial, clock.flip(np.where(rewarded_trial, first_reward, np.nan), uri), np.nan)
    auto = per_trial("trialAutoRewarded", bool, False)
    scheduled = per_trial("trialAutoRewardScheduled", bool, False) if task.has("trialAutoRewardScheduled") else auto
    repeat_flags = task.array("trialRepeat", dtype=bool)
    is_repeat = repeat_flags[:n] if repeat_flags.size >= n else np.zeros(n, dtype=bool)
    # a trial followed by a repeat was a false alarm, which the task punishes with a timeout after the
    # response window (the last trial's successor is unknown, so it has none)
    timeout_start_frame = np.where(np.append(is_repeat[1:], False), frame + window[1] + 1, np.nan)
    timeout_stop_frame = timeout_start_frame + int(task.value("incorrectTimeoutFrames", 0))
    post_start_frame = np.where(np.isnan(timeout_stop_frame), frame + window[1], timeout_stop_frame)
    in_block = _in_block_index(block)
    first_trials = sum(int(task.value(k, 0)) for k in ("newBlockGoTrials", "newBlockNogoTrials", "newBlockCatchTrials"))
    go = stim == rewarded_stim
    nogo = ~go & ~is_catch & np.array(["+" not in s for s in stim], dtype=bool)
    targets = set(rewarded.tolist())
    target = np.isin(stim, list(targets))
    repeat_index = np.zeros(n, dtype=np.int64)
    for i in range(1, n):
        repeat_index[i] = repeat_index[i - 1] + 1 if is_repeat[i] else 0
    phase = task.array("trialGratingPhase", dtype=np.float64)
    phase = (phase[:n, 0] if phase.ndim == 2 else phase[:n]) if phase.size >= n else np.full(n, np.nan)
    modality = np.array([_modality(s) for s in rewarded_stim], dtype=object)
    columns: dict[str, Any] = {
        "trial_index": np.arange(n), "start_time": clock.flip(frame - quiescent, uri),
        "stop_time": clock.flip(end, uri),
        "quiescent_start_time": clock.flip(frame - quiescent, uri),
        "quiescent_stop_time": clock.input_read(frame - 1, uri),
        "stim_start_time": stim_start, "stim_stop_time": stim_stop,
        "response_window_start_time": window_start, "response_window_stop_time": window_stop,
        "task_control_response_time": tc_response, "response_time": response_time, "reward_time": reward_time,
        "timeout_start_time": clock.input_read(timeout_start_frame, uri),
        "timeout_stop_time": clock.shown(timeout_stop_frame, uri),
        "post_response_window_start_time": clock.shown(post_start_frame, uri),
        "post_response_window_stop_time": clock.shown(post_start_frame + post, uri),
        "stim_name": stim, "grating_phase": np.where(is_vis, phase, np.nan), "block_index": block,
        "rewarded_modality": modality, "trial_index_in_block": in_block, "repeat_index": repeat_index,
        "is_response": response, "is_correct": (go & response) | (nogo & ~response) | (is_catch & ~response),
        "is_incorrect": (go & ~response) | (nogo & response) | (is_catch & response),
        "is_hit": go & response, "is_false_alarm": nogo & response, "is_correct_reject": nogo & ~response,
        "is_miss": go & ~response, "is_go": go, "is_nogo": nogo, "is_rewarded": rewarded_trial,
        "is_noncontingent_reward": auto, "is_contingent_reward": rewarded_trial & ~auto,
        "is_reward_scheduled": scheduled, "is_instruction": scheduled | (in_block < first_trials),
        "is_aud_stim": is_aud, "is_vis_stim": is_vis, "is_catch": is_catch, "is_target": target,
        "is_aud_target": target & is_aud, "is_vis_target": target & is_vis, "is_nontarget": ~target & ~is_catch,
        "is_aud_nontarget": ~target & is_aud, "is_vis_nontarget": ~target & is_vis,
        "is_vis_rewarded": modality == "vis", "is_aud_rewarded": modality == "aud",
        "is_block_switch": (in_block == 0) & (block > 0), "is_repeat": is_repeat,
        "is_opto": np.zeros(n, dtype=bool),
        "is_task_control_correct": np.isnan(response_time) == np.isnan(tc_response),
    }
    return pl.DataFrame({name: pl.Series(name, value, strict=False) for name, value in columns.items()})


def _first_number(value: Any) -> float | None:
    """The first element of a setting that may be a scalar or a list (NaN and absent: ``None``)."""
    array = np.asarray(value, dtype=np.float64).ravel() if value is not None else np.empty(0)
    return float(array[0]) if array.size and np.isfinite(array[0]) else None


def stimuli_frame(task: TaskFile) -> pl.DataFrame:
    """The ``stimuli`` rows of a DynamicRouting1 file: each task stimulus's grating or sound settings.

    The stimuli are those of ``blockStim`` (else vis1, vis2, sound1, sound2). Visual ones read ``gratingOri``,
    ``gratingSF``, ``gratingTF``, ``gratingSize``, ``visStimContrast``, ``gratingType`` and ``visStimFrames``;
    auditory ones ``soundType``, ``toneFreq`` or ``ampModFreq``, ``noiseFiltFreq``, ``soundDur``,
    ``soundSampleRate`` and ``soundLevel``. What the file lacks stays null.
    """
    names = sorted({str(s) for block in task.literal_lists("blockStim") for s in block} - {"catch"}) \
        or ["sound1", "sound2", "vis1", "vis2"]
    orientation, tones = task.group("gratingOri"), task.group("toneFreq")
    modulation, bands = task.group("ampModFreq"), task.group("noiseFiltFreq")
    sound_type = str(task.value("soundType", "")) or None
    rows = []
    for name in names:
        row: dict[str, Any] = {"stim_name": name, "modality": _modality(name)}
        if row["modality"] == "vis":
            frames = _first_number(task.value("visStimFrames"))
            row |= {"duration": frames / task.frame_rate if frames is not None else None,
                    "grating_orientation": _first_number(orientation.get(name)),
                    "grating_spatial_frequency": _first_number(task.value("gratingSF")),
                    "grating_temporal_frequency": _first_number(task.value("gratingTF")),
                    "grating_size": _first_number(task.value("gratingSize")),
                    "grating_contrast": _first_number(task.value("visStimContrast")),
                    "grating_type": str(task.value("gratingType", "")) or None}
        elif row["modality"] == "aud":
            band = np.asarray(bands.get(name, []), dtype=np.float64).ravel()
            row |= {"duration": _first_number(task.value("soundDur")), "sound_type": sound_type,
                    "tone_freq": _first_number(tones.get(name)) if sound_type == "tone" else None,
                    "am_freq": _first_number(modulation.get(name)) if sound_type == "AM noise" else None,
                    "noise_low_freq": float(band[0]) if sound_type != "tone" and band.size == 2 else None,
                    "noise_high_freq": float(band[1]) if sound_type != "tone" and band.size == 2 else None,
                    "sound_sample_rate": _first_number(task.value("soundSampleRate")),
                    "sound_level": _first_number(task.value("soundLevel"))}
        rows.append(row)
    return pl.DataFrame(rows, infer_schema_length=None)
