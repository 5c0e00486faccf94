"""Stimulus templates drawn from the ``stimuli`` table: gratings as images, sounds as waveforms.

Each visual stimulus becomes ``/stimulus/templates/<stim_name>``, an ``Images`` holding one grayscale
image of the grating patch (``PIXELS_PER_DEGREE`` pixels per degree, gray outside the patch); each sound
one ``TimeSeries`` of its waveform at its sample rate (a tone with 5 ms raised-cosine ramps, or noise
band-limited to its band and, for AM noise, modulated at its rate). The noise of an AM-noise template is a
fresh draw (fixed seed), not the samples the rig played; its band, modulation and duration are the
task's. The parameters themselves go to ``scratch/npc_lake_stimuli``, from which the NWB reader
restores the ``stimuli`` rows.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from pynwb import NWBFile, TimeSeries
from pynwb.base import Images
from pynwb.image import GrayscaleImage

from npc_lake.export._convert import lake_dynamic_table
from npc_lake.schema import SessionBundle
from npc_lake.schema.conventions import STIMULI_SCRATCH
from npc_lake.schema.stimuli import STIMULI

PIXELS_PER_DEGREE = 4.0
RAMP_S = 0.005
NOISE_SEED = 0

Array = np.ndarray[Any, Any]


def _number(row: dict[str, Any], name: str) -> float | None:
    value = row.get(name)
    return float(value) if value is not None and math.isfinite(value) else None


def grating_image(row: dict[str, Any]) -> Array | None:
    """The grating patch as uint8 luminance (128 = the gray background), or ``None`` if undefined."""
    size, frequency = _number(row, "grating_size"), _number(row, "grating_spatial_frequency")
    if size is None or frequency is None or size <= 0:
        return None
    orientation = math.radians(_number(row, "grating_orientation") or 0.0)
    contrast = _number(row, "grating_contrast")
    contrast = 1.0 if contrast is None else contrast
    pixels = max(2, round(size * PIXELS_PER_DEGREE))
    degrees = (np.arange(pixels) - (pixels - 1) / 2) / PIXELS_PER_DEGREE
    x, y = np.meshgrid(degrees, degrees)
    phase = 2 * math.pi * frequency * (x * math.cos(orientation) + y * math.sin(orientation))
    wave = np.sign(np.sin(phase)) if row.get("grating_type") == "sqr" else np.sin(phase)
    inside = np.hypot(x, y) <= size / 2
    luminance = np.where(inside, 0.5 + 0.5 * contrast * wave, 0.5)
    return np.round(np.clip(luminance, 0.0, 1.0) * 255).astype(np.uint8)


def sound_waveform(row: dict[str, Any]) -> Array | None:
    """The sound as float32 samples in [-1, 1], or ``None`` if its parameters do not define one."""
    rate, duration = _number(row, "sound_sample_rate"), _number(row, "duration")
    if rate is None or duration is None or rate <= 0 or duration <= 0:
        return None
    n = round(rate * duration)
    t = np.arange(n) / rate
    tone = _number(row, "tone_freq")
    if row.get("sound_type") == "tone" and tone is not None:
        wave = np.sin(2 * math.pi * tone * t)
        ramp = min(round(RAMP_S * rate), n // 2)
        if ramp:
            window = 0.5 - 0.5 * np.cos(np.pi * np.arange(ramp) / ramp)
            wave[:ramp] *= window
            wave[n - ramp:] *= window[::-1]
    elif row.get("sound_type") in ("AM noise", "noise"):
        spectrum = np.fft.rfft(np.random.default_rng(NOISE_SEED).standard_normal(n))
        frequencies = np.fft.rfftfreq(n, 1 / rate)
        low, high = _number(row, "noise_low_freq") or 0.0, _number(row, "noise_high_freq") or rate / 2
        wave = np.fft.irfft(np.where((frequencies >= low) & (frequencies <= high), spectrum, 0), n)
        modulation = _number(row, "am_freq")
        if row.get("sound_type") == "AM noise" and modulation is not None:
            wave *= (np.sin(1.5 * math.pi + 2 * math.pi * modulation * t) + 1) / 2
    else:
        return None
    peak = float(np.abs(wave).max())
    return (wave / peak if peak > 0 else wave).astype(np.float32)


def _describe(row: dict[str, Any]) -> str:
    known = {c.name: row[c.name] for c in STIMULI.columns[2:] if row.get(c.name) is not None}
    return f"Template of {row['stim_name']} drawn from its definition: " + ", ".join(
        f"{name}={value:g}" if isinstance(value, float) else f"{name}={value}" for name, value in known.items())


def add_stimulus_templates(nwbfile: NWBFile, bundle: SessionBundle) -> None:
    """Write a template per defined stimulus, and the definitions to ``scratch/npc_lake_stimuli``.

    Parameters
    ----------
    nwbfile
        The file being built.
    bundle
        The session; ``stimuli`` is read.
    """
    frame = bundle.table("stimuli")
    if frame is None or frame.height == 0:
        return
    frame = frame.sort("stim_name")
    for row in frame.iter_rows(named=True):
        image = grating_image(row) if row.get("modality") == "vis" else None
        if image is not None:
            nwbfile.add_stimulus_template(Images(
                name=row["stim_name"], description=_describe(row),
                images=[GrayscaleImage(name=row["stim_name"], data=image, resolution=PIXELS_PER_DEGREE,
                                       description=f"{PIXELS_PER_DEGREE:g} pixels per degree of visual angle; "
                                                   "0 black, 255 white, 128 the gray background")]))
        waveform = sound_waveform(row) if row.get("modality") == "aud" else None
        if waveform is not None:
            nwbfile.add_stimulus_template(TimeSeries(
                name=row["stim_name"], data=waveform, unit="a.u.", rate=float(row["sound_sample_rate"]),
                starting_time=0.0, description=_describe(row),
                comments="Amplitude normalised to a peak of 1; the level played is sound_level."))
    nwbfile.add_scratch(lake_dynamic_table(frame, bundle=bundle, table_name="stimuli", name=STIMULI_SCRATCH,
                                           description=STIMULI.description))


__all__ = ["add_stimulus_templates", "grating_image", "sound_waveform"]
