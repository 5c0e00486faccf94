"""Putting raw DR clocks on the sync clock: display frames, probe sample clocks, and the barcodes between them.

Every time in the lake is seconds on the sync clock (the rig's sync file). The sources of timing, in
order of priority:

1. Frames of a task file: the falling edges of the sync file's vsync line, one per display flip, one
   block per task file in order: the edges inside each high period of the stim-running line, or (without
   that line) runs of edges separated by more than :data:`VSYNC_BLOCK_GAP`. A block whose
   edge count differs from the file's frame count by more than :data:`MAX_FRAME_MISMATCH` cannot be
   matched and that file is not timed.
2. Visual stimulus onsets: when each frame reached the centre of the screen, from the photodiode over the
   sync square (:mod:`npc_lake.sources.display_times`); where its edges do not fit the frames, the flip time
   plus the median flip-to-photodiode delay (:func:`display_lag`) and the centre-of-screen delay; without
   a photodiode line, the flip plus a constant 27.55 ms.
3. Sounds, opto and rewards: their own sync lines when present (first rising edge after the triggering
   flip), else the triggering flip.
4. Spikes and other probe samples: each probe's Open Ephys sample numbers are fitted to the sync clock by
   least squares over the barcodes both recorded (the rig's barcode generator feeds the sync file's
   ``barcode_ephys`` line and every probe's sync input): ``time = intercept + sample / rate``.

Barcodes, as decoded here: a barcode starts with a rising edge after the line was low for more than
:data:`BARCODE_MIN_GAP`; that start pulse lasts one bar (:data:`BAR_DURATION`) and is followed by one low
bar, then :data:`BARCODE_BITS` bits of one bar each, least significant first, 1 = high. A bit is read at
the middle of its bar.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from npc_lake.sources.display_times import MIN_VSYNC_TO_DIODE_S

#: vsync edges further apart than this (s) start a new block (a new task file).
VSYNC_BLOCK_GAP = 1.0
#: Frames a vsync block may differ from its task file by and still be matched (the extra are dropped).
MAX_FRAME_MISMATCH = 1
#: Barcode bar width (s), bit count and the quiet time (s) before a barcode's start pulse.
BAR_DURATION = 0.015
BARCODE_BITS = 32
BARCODE_MIN_GAP = 1.0
#: A barcode match whose residual from the clock fit exceeds this (s) is dropped and the fit redone.
MAX_FIT_RESIDUAL = 2e-4

FloatArray = np.ndarray[Any, np.dtype[np.float64]]


def vsync_blocks(falling_edges: FloatArray, *, min_gap: float = VSYNC_BLOCK_GAP,
                 running: tuple[FloatArray, FloatArray] | None = None) -> list[FloatArray]:
    """Split vsync falling-edge times into one block per task run; blocks of a single edge are dropped.

    With ``running`` (rising and falling edges of the stim-running line, high while a task runs) each
    high period is a block; otherwise blocks are separated by more than ``min_gap`` seconds.
    """
    if falling_edges.size == 0:
        return []
    if running is not None and running[0].size:
        rises, falls = running
        ends = np.array([falls[np.searchsorted(falls, rise)] if np.searchsorted(falls, rise) < falls.size
                         else np.inf for rise in rises])
        blocks = [falling_edges[(falling_edges >= rise) & (falling_edges <= end)] for rise, end in zip(rises, ends,
                                                                                                    strict=True)]
        return [block for block in blocks if block.size > 1]
    breaks = np.flatnonzero(np.diff(falling_edges) > min_gap) + 1
    return [block for block in np.split(falling_edges, breaks) if block.size > 1]


def display_lag(flip_times: FloatArray, diode_edges: FloatArray, *, every: int = 1,
                max_lag: float = 0.1) -> float | None:
    """Median delay from the flips that invert the photodiode box (every ``every``-th frame from frame 0)
    to their photodiode edges, matched in order from the first edge at least ``MIN_VSYNC_TO_DIODE_S``
    after the block's first flip; ``None`` when no edge follows within ``max_lag``."""
    flips = flip_times[::every]
    if flips.size == 0 or diode_edges.size == 0:
        return None
    edges = diode_edges[(diode_edges > flips[0] + MIN_VSYNC_TO_DIODE_S) & (diode_edges <= flips[-1] + max_lag)]
    n = min(edges.size, flips.size)
    delays = edges[:n] - flips[:n]
    delays = delays[(delays >= 0) & (delays <= max_lag)]
    return float(np.median(delays)) if delays.size else None


def first_edge_after(edges: FloatArray, times: FloatArray, *, within: float) -> FloatArray:
    """For each of ``times``, the first of ``edges`` at or after it and no later than ``within`` s; NaN if none."""
    out = np.full(times.shape, np.nan)
    if edges.size == 0:
        return out
    index = np.searchsorted(edges, times, side="left")
    ok = index < edges.size
    candidate = np.where(ok, edges[np.minimum(index, edges.size - 1)], np.nan)
    near = ok & (candidate - times <= within)
    out[near] = candidate[near]
    return out


def _level_at(rising: FloatArray, falling: FloatArray, times: FloatArray) -> np.ndarray[Any, np.dtype[np.bool_]]:
    """Whether the line is high at each of ``times`` (the last edge at or before it was rising)."""
    last_rise = np.searchsorted(rising, times, side="right")
    last_fall = np.searchsorted(falling, times, side="right")
    rise_time = np.where(last_rise > 0, rising[np.maximum(last_rise - 1, 0)], -np.inf)
    fall_time = np.where(last_fall > 0, falling[np.maximum(last_fall - 1, 0)], -np.inf)
    return rise_time > fall_time


IntArray = np.ndarray[Any, np.dtype[np.int64]]


@dataclass(frozen=True)
class Barcodes:
    """The barcodes found on one line: each one's start, value and edges (in the line's unit of time)."""

    starts: FloatArray
    values: IntArray
    edges: FloatArray
    bar: float
    bits: int = BARCODE_BITS

    def edges_of(self, index: int) -> FloatArray:
        """Every edge of barcode ``index`` (its start pulse to its last bit)."""
        start = self.starts[index]
        lo, hi = np.searchsorted(self.edges, [start, start + (self.bits + 2.5) * self.bar], side="left")
        return self.edges[lo:hi]


def decode_barcodes(rising: FloatArray, falling: FloatArray, *, bar: float = BAR_DURATION,
                    bits: int = BARCODE_BITS, min_gap: float = BARCODE_MIN_GAP) -> Barcodes:
    """The barcodes on a line, from its rising and falling edge times (any unit of time, as long as ``bar``
    and ``min_gap`` use it too). A barcode cut off by the end of a recording decodes to a value the other
    clock does not have, so it is never matched.
    """
    edges = np.sort(np.concatenate([rising, falling])).astype(np.float64)
    if rising.size == 0:
        return Barcodes(np.array([], dtype=np.float64), np.array([], dtype=np.int64), edges, bar, bits)
    previous_fall = np.searchsorted(falling, rising, side="left") - 1
    quiet = np.where(previous_fall >= 0, rising - falling[np.maximum(previous_fall, 0)], np.inf)
    starts = rising[quiet > min_gap].astype(np.float64)
    slots = starts[:, None] + (2 + np.arange(bits) + 0.5)[None, :] * bar
    high = _level_at(rising, falling, slots.ravel()).reshape(slots.shape)
    values = (high.astype(np.int64) << np.arange(bits, dtype=np.int64)[None, :]).sum(axis=1)
    return Barcodes(starts, values, edges, bar, bits)


@dataclass(frozen=True)
class ClockFit:
    """A probe clock on the sync clock: ``sync_time = intercept + sample_number / rate``."""

    rate: float
    intercept: float
    n_barcodes: int
    max_residual: float

    def to_sync(self, sample_numbers: np.ndarray[Any, Any]) -> FloatArray:
        """Sync-clock seconds of probe sample numbers."""
        return self.intercept + np.asarray(sample_numbers, dtype=np.float64) / self.rate


def _pairs(probe: Barcodes, sync: Barcodes) -> tuple[FloatArray, FloatArray, IntArray]:
    """(probe time, sync time, barcode value) of every edge of the barcodes found once on both lines; a
    barcode whose edge counts differ contributes its start only."""
    probe_unique, probe_counts = np.unique(probe.values, return_counts=True)
    sync_unique, sync_counts = np.unique(sync.values, return_counts=True)
    shared = np.intersect1d(probe_unique[probe_counts == 1], sync_unique[sync_counts == 1])
    xs, ys, ids = [], [], []
    for value in shared.tolist():
        i, j = int(np.flatnonzero(probe.values == value)[0]), int(np.flatnonzero(sync.values == value)[0])
        x, y = probe.edges_of(i), sync.edges_of(j)
        if x.size != y.size or x.size == 0:
            x, y = probe.starts[i:i + 1], sync.starts[j:j + 1]
        xs.append(x)
        ys.append(y)
        ids.append(np.full(x.size, value))
    if not xs:
        return np.empty(0), np.empty(0), np.empty(0, dtype=np.int64)
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(ids)


def fit_clock(probe: Barcodes, sync: Barcodes) -> ClockFit | None:
    """Fit the probe line's times (sample numbers) to the sync line's (seconds) by least squares over every
    edge of the barcodes whose values appear exactly once on both; ``None`` with fewer than two such
    barcodes. Barcodes whose edges stray more than :data:`MAX_FIT_RESIDUAL` from the fit are dropped and
    the fit is redone."""
    x, y, ids = _pairs(probe, sync)
    keep = np.ones(x.size, dtype=bool)
    slope = intercept = 0.0
    residual = np.zeros(x.size)
    for _ in range(4):
        if np.unique(ids[keep]).size < 2:
            return None
        x0, y0 = x[keep].mean(), y[keep].mean()  # centred: sample numbers reach 1e9
        dx = x[keep] - x0
        slope = float((dx * (y[keep] - y0)).sum() / (dx * dx).sum())
        intercept = y0 - slope * x0
        residual = np.abs(y - (intercept + slope * x))
        bad = np.unique(ids[residual > MAX_FIT_RESIDUAL])
        new_keep = ~np.isin(ids, bad)
        if np.array_equal(new_keep, keep):
            break
        keep = new_keep
    if slope <= 0 or np.unique(ids[keep]).size < 2:
        return None
    return ClockFit(rate=float(1.0 / slope), intercept=float(intercept), n_barcodes=int(np.unique(ids[keep]).size),
                    max_residual=float(residual[keep].max()))
