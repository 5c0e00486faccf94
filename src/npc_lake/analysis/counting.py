"""Spike counting around events, the inner loop of every analysis: NumPy, or a compiled loop when it pays.

A spike at ``t`` counts for an event at ``onset`` when ``window[0] <= t - onset < window[1]``, in bin
``floor((t - onset - window[0]) / bin_size)`` (bins past the last are dropped), computed in float64 exactly
as written. Both engines find each (run, event) window's spikes by binary search in the run's sorted times
and bin them with the same arithmetic, so their counts are identical:

``numpy``
    the windows' spikes are gathered into flat arrays and counted with one ``bincount``; costs about 0.1 µs
    per spike in a window, nothing to start.
``numba``
    a compiled loop walks each window's spikes (:mod:`npc_lake.analysis._kernels`); about 5 ns per spike,
    but loading numba and its cached code takes about 0.9 s once per process.
``auto``
    numba when one call's windows hold at least :data:`NUMBA_MIN_SPIKES` spikes and numba is installed, else
    NumPy. psth counts chunk by chunk (a few hundred thousand spikes a call), so in practice that is NumPy:
    measured on the benchmark lake, reading the spikes dominates, and numba's start-up outweighs its faster
    loop (500 units x 500 trials x 20 sessions: 1.7 s with NumPy, 2.1 s with numba, fresh processes).

numba is an optional dependency (``pip install "npc-lake[numba]"``); ``engine="numba"`` without it raises.
"""

from __future__ import annotations

import importlib.util
from typing import Any, Literal

import numpy as np

from npc_lake.errors import NpcLakeError

Array = np.ndarray[Any, Any]
Engine = Literal["auto", "numpy", "numba"]
#: Spikes in the windows of one call from which ``auto`` uses the compiled loop (its start-up is then repaid).
NUMBA_MIN_SPIKES = 10_000_000


def add_window_counts(times: Array, starts: Array, stops: Array, rows: Array, onsets: Array, event_group: Array,
                      *, window: tuple[float, float], bin_size: float, slack: float, counts: Array,
                      engine: Engine = "auto") -> None:
    """Add spikes to ``counts[row, group, bin]`` around sorted ``onsets``.

    Parameters
    ----------
    times
        Spike times; ``times[starts[r]:stops[r]]`` is non-decreasing for every run ``r``.
    starts, stops, rows
        The runs, and the row of ``counts`` each adds to (``-1``: skip the run).
    onsets, event_group
        Event times (sorted) and the group (second axis of ``counts``) of each event.
    window, bin_size
        The window relative to each event and the bin width (see the module docstring).
    slack
        Widening of the search for a window's first and last spike, before the exact test.
    counts
        int64 array (rows, groups, bins), updated in place.
    engine
        ``"auto"``, ``"numpy"`` or ``"numba"`` (see the module docstring).
    """
    kept = rows >= 0
    starts, stops, rows = starts[kept], stops[kept], rows[kept]
    if starts.size == 0 or onsets.size == 0:
        return
    if engine == "numba":
        _compiled(times, starts, stops, rows, onsets, event_group, window, bin_size, slack, counts)
        return
    start, stop = window
    first, last = onsets + (start - slack), onsets + (stop + slack)
    lo = np.empty((starts.size, onsets.size), dtype=np.int64)
    hi = np.empty_like(lo)
    for r, (a, b) in enumerate(zip(starts.tolist(), stops.tolist(), strict=True)):
        train = times[a:b]
        lo[r] = np.searchsorted(train, first, side="left") + a
        hi[r] = np.searchsorted(train, last, side="left") + a
    n = (hi - lo).ravel()
    total = int(n.sum())
    if total == 0:
        return
    if engine == "auto" and total >= NUMBA_MIN_SPIKES and importlib.util.find_spec("numba") is not None:
        _compiled(times, starts, stops, rows, onsets, event_group, window, bin_size, slack, counts)
        return
    offsets = np.cumsum(n) - n
    spike = np.repeat(lo.ravel(), n) + (np.arange(total) - np.repeat(offsets, n))
    event = np.repeat(np.tile(np.arange(onsets.size), starts.size), n)
    row = np.repeat(np.repeat(rows, onsets.size), n)
    relative = times[spike] - onsets[event]
    bins = np.floor((relative - start) / bin_size).astype(np.int64)
    inside = (relative >= start) & (relative < stop) & (bins >= 0) & (bins < counts.shape[2])
    flat = (row[inside] * counts.shape[1] + event_group[event[inside]]) * counts.shape[2] + bins[inside]
    counts += np.bincount(flat, minlength=counts.size).reshape(counts.shape)


def _compiled(times: Array, starts: Array, stops: Array, rows: Array, onsets: Array, event_group: Array,
              window: tuple[float, float], bin_size: float, slack: float, counts: Array) -> None:
    try:
        from npc_lake.analysis._kernels import add_window_counts as compiled
    except ImportError as exc:
        raise NpcLakeError(f'the numba counting engine needs numba: pip install "npc-lake[numba]" ({exc})') from None

    compiled(times, starts, stops, rows, onsets, event_group, window=window, bin_size=bin_size, slack=slack,
             counts=counts)


__all__ = ["NUMBA_MIN_SPIKES", "Engine", "add_window_counts"]
