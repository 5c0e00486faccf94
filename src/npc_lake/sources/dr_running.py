"""Running speed from the rotary encoder counts of TaskControl files, as npc_sessions 0.0.291 defines it.

Each file with a digital encoder gives one block of samples: the speed at frame ``k`` (``k >= 1``) is the
count change from frame ``k - 1`` times the wheel's circumference per count times 60 (one encoder read per
frame), stamped at frame ``k - 1``'s flip (the read of frame ``k`` follows it) plus half the block's
median frame interval (the change happened between the reads). Each block is then low-pass filtered on its
own: a 3rd-order Butterworth filter at 4 Hz, run forwards and backwards (zero phase), missing samples as
0. A file whose encoder never moved gives no samples.

This is the only module that imports SciPy (its Butterworth design and forward-backward filter), and only
when a file is read.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from npc_lake.sources.dr_task import FrameClock
from npc_lake.sources.task_hdf5 import TaskFile

FloatArray = np.ndarray[Any, np.dtype[np.float64]]
ENCODER_READS_PER_S = 60  # TaskControl reads the encoder once per frame at 60 frames/s
LOWPASS_HZ, LOWPASS_ORDER = 4.0, 3
DESCRIPTION = ("Linear forward running speed on the rotating disk, from the rotary encoder's count change per "
               f"frame, low-pass filtered at {LOWPASS_HZ:g} Hz (order-{LOWPASS_ORDER} Butterworth, zero phase).")


def lowpass(speed: FloatArray) -> FloatArray:
    """The zero-phase low-pass filter of one contiguous block of samples (NaN read as 0)."""
    from scipy import signal

    b, a = signal.butter(LOWPASS_ORDER, Wn=LOWPASS_HZ, fs=ENCODER_READS_PER_S, btype="lowpass")
    filtered: FloatArray = signal.filtfilt(b, a, np.nan_to_num(speed))
    return filtered


def running_speed(task: TaskFile, clock: FrameClock) -> tuple[FloatArray, FloatArray] | None:
    """(sample times, filtered speed in cm/s) of one task file; ``None`` without a digital encoder, or when
    the encoder never moved or the file is too short to filter."""
    counts = task.array("rotaryEncoderCount", dtype=np.float64)
    if task.value("rotaryEncoder") != "digital" or counts.size < 2 or not counts.any():
        return None
    per_rev = float(task.value("rotaryEncoderCountsPerRev", 8192))
    radius = float(task.value("wheelRadius", 4.69))
    n = min(counts.size, clock.flips.size)
    speed = np.diff(counts[:n]) * (2 * math.pi * radius / per_rev) * ENCODER_READS_PER_S
    times = clock.flips[: n - 1]
    if times.size <= 3 * (LOWPASS_ORDER + 1):  # filtfilt pads each end with 3 x (filter length) samples
        return None
    return times + 0.5 * float(np.median(np.diff(times))), lowpass(speed)


__all__ = ["DESCRIPTION", "lowpass", "running_speed"]
