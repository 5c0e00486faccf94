"""When each frame of a task file reached the screen: per-frame display times from the photodiode.

TaskControl inverts a small square in the screen's corner on every frame (every ``diodeBoxFrameInterval``-th
frame in scripts from July 2025 on), and a photodiode over it is recorded on sync. The definitions below
are npc_sync's (npc_sessions 0.0.291), the reference for DR tables, restated here:

- a block's photodiode edges are those later than its first vsync + 15 ms and earlier than its last
  vsync + 5 nominal frames (``FRAME_INTERVAL`` = 1 / 59.95 s);
- a pair of edges closer than a third of a frame that does not sum with a neighbour to a whole number of
  frames is a blip and is removed;
- the square's white (rising) edges are trusted; the frames between them are put halfway between the
  rising edges around them, except after a dropped frame (a rising-to-rising interval over 2.5 refreshes),
  where the falling edge's position, rounded down unless within a tenth of a refresh of the next, says how
  many refreshes the black frame took;
- up to three frames missing at the block's end (a sync recording stopped early) are extrapolated from the
  mean vsync-to-display delay; an extra edge after the last frame (the window closing) is dropped;
- every display time is then moved ``MONITOR_CENTER_DELAY_S`` later: the photodiode sits at the top of the
  screen, which refreshes top to bottom in ~16 ms, and stimuli are at its centre.

A block whose edges cannot be matched to its frames gets no display times (``None``); the caller falls back
to vsync + a constant lag and says so.
"""

from __future__ import annotations

from typing import Any

import numpy as np

FloatArray = np.ndarray[Any, np.dtype[np.float64]]

FRAME_RATE = 59.95  # the monitors' measured refresh rate, as npc_sync assumes it
FRAME_INTERVAL = 1 / FRAME_RATE
MONITOR_CENTER_DELAY_S = 0.008
CONSTANT_DISPLAY_LAG_S = MONITOR_CENTER_DELAY_S + 0.01955  # vsync to screen centre without a photodiode
MIN_VSYNC_TO_DIODE_S = 0.015
MAX_DIODE_AFTER_LAST_VSYNC_S = 5 / FRAME_RATE
_SUSPICIOUS_S = 0.3 / FRAME_RATE
_DEFINITELY_SHORT_S = 0.05 / FRAME_RATE
_MAX_MISSING_AT_END = 3


def frame_display_times(vsyncs: FloatArray, rising: FloatArray, falling: FloatArray, *,
                        frames_per_flip: int = 1) -> FloatArray | None:
    """Display time of every frame of one block (one task file), centre of screen, on the sync clock.

    Parameters
    ----------
    vsyncs
        The block's vsync falling edges (one per frame), in seconds.
    rising, falling
        All photodiode edges of the recording (the block's are picked out).
    frames_per_flip
        Frames per inversion of the square (``diodeBoxFrameInterval``; 1 before July 2025).

    Returns
    -------
    numpy.ndarray or None
        One time per vsync, or ``None`` when the edges do not fit the frames (or ``frames_per_flip`` > 1,
        whose layout is not read yet).
    """
    if vsyncs.size < 2 or frames_per_flip != 1:
        return None
    low, high = vsyncs[0] + MIN_VSYNC_TO_DIODE_S, vsyncs[-1] + MAX_DIODE_AFTER_LAST_VSYNC_S
    rising = rising[(rising > low) & (rising < high)]
    falling = falling[(falling > low) & (falling < high)]
    if rising.size < 2 or falling.size < 1:
        return None
    first_on = bool(rising[0] < falling[0])
    flips = np.sort(np.concatenate([rising, falling]))
    while (bad := _blip_indices(flips)).size:
        flips = np.delete(flips, slice(int(bad[0]), int(bad[0]) + 2))
        if bad[0] == 0:
            first_on = not first_on
    if abs(flips.size - vsyncs.size) > 5:
        return None
    on, off = (flips[0::2], flips[1::2]) if first_on else (flips[1::2], flips[0::2])
    if on.size < 2 or off.size < 1:
        return None
    times = _fit_to_frames(_every_frame(on, off), vsyncs)
    return None if times is None else times + MONITOR_CENTER_DELAY_S


def _every_frame(on: FloatArray, off: FloatArray) -> FloatArray:
    """Frame times from white-square (on) edges, black frames in between (see the module docstring)."""
    first_off = bool(off[0] < on[0])
    last_on = bool(on[-1] > off[-1])
    intervals = np.diff(on)
    fake_off = on[:-1] + 0.5 * intervals
    if not last_on:
        fake_off = np.append(fake_off, fake_off[-1] + intervals[-1])
    if first_off:
        fake_off = np.insert(fake_off, 0, fake_off[0] - intervals[0])
    refresh = float(np.median(intervals)) / 2
    for index in np.flatnonzero(intervals > 2.5 * refresh).tolist():
        off_index = index + int(first_off)
        if off_index >= off.size or off_index >= fake_off.size:
            continue
        n_refreshes = round(float(intervals[index]) / refresh)
        to_off = _floor_unless_near(float(off[off_index] - on[index]) / refresh, 0.9)
        if 1 <= to_off < n_refreshes:
            fake_off[off_index] = on[index] + to_off * (intervals[index] / n_refreshes)
    times = np.full(on.size * 2 + int(first_off) - int(last_on), np.nan)
    times[0::2] = (fake_off if first_off else on)[: times[0::2].size]
    times[1::2] = (on if first_off else fake_off)[: times[1::2].size]
    return times


def _floor_unless_near(x: float, threshold: float) -> int:
    """``x`` rounded down, or up when its fraction is at least ``threshold``; never below 1."""
    whole = np.floor(x)
    return int(np.ceil(x)) if x >= whole + threshold else max(int(whole), 1)


def _fit_to_frames(times: FloatArray, vsyncs: FloatArray) -> FloatArray | None:
    """Exactly one time per vsync: extrapolate a few missing at the end, drop extras after the last."""
    while times.size < vsyncs.size:
        if vsyncs.size - times.size > _MAX_MISSING_AT_END:
            return None
        delay = float(np.mean(times - vsyncs[: times.size]))
        index = int(np.searchsorted(vsyncs, times[-1], side="left"))
        while times[-1] < vsyncs[-1] + delay and index - 1 < vsyncs.size:
            times = np.append(times, vsyncs[index - 1] + delay)
            index += 1
    if times.size == vsyncs.size + 1 and times[-1] > vsyncs[-1] + float(np.mean(times[:-1] - vsyncs)):
        times = times[:-1]
    if times.size - vsyncs.size < 5:
        times = times[: vsyncs.size]
    return times if times.size == vsyncs.size else None


def _blip_indices(flips: FloatArray) -> np.ndarray[Any, np.dtype[np.int64]]:
    """Indices of edge intervals too short to be a frame and not part of a whole-frame pair."""
    intervals = np.diff(flips)
    short = np.flatnonzero(intervals < _SUSPICIOUS_S)
    bad = [i for i in short.tolist()
           if not _whole_frame_pair(intervals[i], intervals[i - 1] if i > 0 else None,
                                    intervals[i + 1] if i + 1 < intervals.size else None)]
    return np.array(bad, dtype=np.int64)


def _whole_frame_pair(interval: float, before: float | None, after: float | None) -> bool:
    if interval < _DEFINITELY_SHORT_S:
        return False
    for other in (before, after):
        if other is None:
            continue
        total = interval + other
        if total < 2 * FRAME_INTERVAL - _SUSPICIOUS_S:
            continue
        if round(total * FRAME_RATE, 1) % 1 != 0:
            continue
        return True
    return False


__all__ = ["CONSTANT_DISPLAY_LAG_S", "FRAME_INTERVAL", "MONITOR_CENTER_DELAY_S", "frame_display_times"]
