"""The other DR task files to lake rows: RF mapping and optotagging intervals, and running speed.

RFMapping trials start at ``stimStartFrame`` and last ``stimFrames + interStimFrames`` frames. A trial is
visual when it has a grating position or a full-field contrast, auditory when it has a tone frequency, an
AM-noise modulation frequency (0 Hz included, as npc_sessions counts it) or a white-noise band
(``trialNoiseFreq``). Times: ``start_time = flip[s]``, ``stop_time = flip[s + stimFrames +
interStimFrames]``; visual stimuli ``shown[s]`` to ``shown[s + stimFrames]`` (when the frames reached the
screen's centre, :mod:`npc_lake.sources.display_times`); sounds from the sound line (else ``flip[s]`` +
``soundDur``). ``trial_index`` counts every RF trial of the file.

OptoTagging pulses start at the laser line's first rising edge after ``flip[trialOptoOnsetFrame]`` and
stop at its next falling edge (else after ``trialOptoDur``). Each row spans the pulse plus an analysis
margin of ``min(0.2, optoInterval / frameRate / 2)`` s either side; ``baseline`` is the margin before the
pulse, ``response`` the pulse itself (each trimmed by 1.5 ms). Power is the calibration polynomial
(``optoPowerCalibrationData/poly coefficients``) at the trial's voltage, in mW. ``stim_name`` is the pulse's
shape as npc_sessions names it: ``square``, or ``sine`` for a trial with a ``trialOptoSinFreq``.

Running speed is read by :mod:`npc_lake.sources.dr_running`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from npc_lake.errors import SourceError
from npc_lake.sources.dr_task import FrameClock
from npc_lake.sources.task_hdf5 import TaskFile

#: Trimmed from each end of an optotagging pulse's baseline and response windows (s).
OPTO_EDGE_TRIM = 0.0015


def _nan_column(task: TaskFile, name: str, n: int) -> np.ndarray[Any, Any]:
    values = task.array(name, dtype=np.float64)
    if values.size == 0:
        return np.full(n, np.nan)
    if values.shape[0] < n:
        raise SourceError(task.uri, f"{name} has {values.shape[0]} entries for {n} trials")
    return values[:n]


def rf_mapping_frames(task: TaskFile, clock: FrameClock) -> list[pl.DataFrame]:
    """``VisRFMapping`` and ``AudRFMapping`` intervals of one RFMapping file."""
    uri = task.uri
    starts = task.array("stimStartFrame", dtype=np.float64)
    n = starts.size
    stim_frames = int(task.value("stimFrames", 15))
    period = stim_frames + int(task.value("interStimFrames", 15))
    xy = task.array("trialVisXY", dtype=np.float64)
    xy = xy[:n] if xy.ndim == 2 and xy.shape[0] >= n else np.full((n, 2), np.nan)
    ori, contrast = _nan_column(task, "trialGratingOri", n), _nan_column(task, "trialFullFieldContrast", n)
    tone = _nan_column(task, "trialToneFreq" if task.has("trialToneFreq") else "trialSoundFreq", n)
    am = _nan_column(task, "trialAMNoiseFreq", n)
    band = task.array("trialNoiseFreq", dtype=np.float64)  # band-passed white noise: (low, high) per trial
    noise = (np.isfinite(band[:n]).all(axis=1) if band.ndim == 2 and band.shape[0] >= n
             else np.zeros(n, dtype=bool))
    grating = np.isfinite(xy).all(axis=1) & np.isfinite(ori)
    flash = np.isfinite(contrast)
    is_vis = grating | flash
    is_aud = ~is_vis & (np.isfinite(tone) | np.isfinite(am) | noise)
    flip = clock.flip(starts, uri)
    sound_s = float(np.atleast_1d(task.value("soundDur", 0.25))[0])
    sound_on, sound_off = clock.edges_after(clock.sound_edges, flip, np.full(n, sound_s))
    common = {"start_time": flip, "stop_time": clock.flip(starts + period, uri), "trial_index": np.arange(n)}
    vis = pl.DataFrame({**common, "stim_start_time": clock.shown(starts, uri),
                        "stim_stop_time": clock.shown(np.where(is_vis, starts + stim_frames, np.nan), uri),
                        "is_small_field_grating": grating, "grating_orientation": ori, "grating_x": xy[:, 0],
                        "grating_y": xy[:, 1], "is_full_field_flash": flash, "flash_contrast": contrast}).filter(is_vis)
    aud = pl.DataFrame({**common, "stim_start_time": sound_on, "stim_stop_time": sound_off,
                        "is_white_noise": noise, "is_pure_tone": np.isfinite(tone), "is_AM_noise": np.isfinite(am),
                        "freq": np.where(np.isfinite(tone), tone, am)}).filter(is_aud)
    return [vis.with_columns(interval_name=pl.lit("VisRFMapping")),
            aud.with_columns(interval_name=pl.lit("AudRFMapping"))]


def opto_tagging_frame(task: TaskFile, clock: FrameClock) -> pl.DataFrame:
    """``OptoTagging`` intervals of one OptoTagging file."""
    uri = task.uri
    onsets = task.array("trialOptoOnsetFrame", dtype=np.float64)
    n = onsets.size
    duration = _nan_column(task, "trialOptoDur", n)
    on, off = clock.edges_after(clock.laser_edges, clock.flip(onsets, uri), duration)
    margin = min(0.2, float(task.value("optoInterval", 60)) / task.frame_rate / 2)
    labels: list[str | None] = [*task.strings("trialOptoLabel")[:n]] or [None] * n
    # each trial's galvo voltages name its location: the row of galvoVoltage they equal, whose bregmaXY it is
    galvo, bregma = task.array("galvoVoltage"), task.array("bregmaXY")
    if bregma.size == 0:
        bregma = task.array("optoBregma")
    trial_galvo = task.array("trialGalvoVoltage")
    located = (galvo.ndim == 2 and bregma.shape == galvo.shape and trial_galvo.ndim == 2
               and trial_galvo.shape[0] >= n)
    index = np.full(n, -1)
    if located:
        matches = np.all(trial_galvo[:n, None, :] == galvo[None, :, :], axis=2)
        index = np.where(matches.any(axis=1), matches.argmax(axis=1), -1)
    bregma_x = np.append(bregma[:, 0], np.nan) if located else np.full(1, np.nan)
    bregma_y = np.append(bregma[:, 1], np.nan) if located else np.full(1, np.nan)
    coefficients = task.array("optoPowerCalibrationData/poly coefficients", dtype=np.float64)
    voltage = _nan_column(task, "trialOptoVoltage", n)
    power = np.round(np.polyval(coefficients, voltage), 3) if coefficients.size else np.full(n, np.nan)
    device = str(task.value("optoDev", "laser_488"))
    digits = "".join(ch for ch in device if ch.isdigit())
    return pl.DataFrame({
        "interval_name": "OptoTagging", "start_time": on - margin, "stop_time": off + margin,
        "stim_start_time": on, "stim_stop_time": off, "baseline_start_time": on - margin,
        "baseline_stop_time": on - OPTO_EDGE_TRIM, "response_start_time": on + OPTO_EDGE_TRIM,
        "response_stop_time": off - OPTO_EDGE_TRIM, "trial_index": np.arange(n),
        "stim_name": [("sine" if sine else "square") if pulsed else None for pulsed, sine in zip(
            (np.isfinite(duration) & np.isfinite(voltage) & (duration != 0) & (voltage != 0)).tolist(),
            (np.nan_to_num(_nan_column(task, "trialOptoSinFreq", n)) != 0).tolist(), strict=True)],
        "nominal_duration": duration, "location": labels,
        "bregma_x": bregma_x[index],
        "bregma_y": bregma_y[index],
        "power": power, "wavelength": np.full(n, float(digits) if digits else np.nan), "device_name": device,
    }, strict=False)


def laser_device(device_name: str) -> pl.DataFrame:
    """The ``devices`` row of the light source an OptoTagging file names (``optoDev``, e.g. ``laser_488``)."""
    return pl.DataFrame({"device_name": [device_name],
                         "description": [f"Light source of the optotagging pulses ({device_name} in the task file)."]})


