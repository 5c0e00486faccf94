"""Compiled inner loop of spike counting (numba). The only module that imports numba.

Imported only when :mod:`npc_lake.analysis.counting` hands it a large count, so that ``import npc_lake``,
``npc-lake --help`` and ordinary analyses do not load numba; the compiled code is cached next to this file
(``cache=True``), so only the first call in a fresh installation pays the compilation.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np

Array = np.ndarray[Any, Any]


@numba.njit(cache=True, nogil=True)
def _add_window_counts(times: Array, run_starts: Array, run_stops: Array, run_rows: Array, onsets: Array,
                       event_group: Array, start: float, stop: float, bin_size: float, slack: float,
                       counts: Array) -> None:  # pragma: no cover - compiled
    n_bins = counts.shape[2]
    for r in range(run_starts.shape[0]):
        row = run_rows[r]
        if row < 0:
            continue
        a, b = run_starts[r], run_stops[r]
        position = a
        for e in range(onsets.shape[0]):
            onset = onsets[e]
            first, last = onset + (start - slack), onset + (stop + slack)
            lo, hi = position, b  # onsets are sorted, so each search starts where the last one ended
            while lo < hi:
                middle = (lo + hi) >> 1
                if times[middle] < first:
                    lo = middle + 1
                else:
                    hi = middle
            position = lo
            group = event_group[e]
            i = lo
            while i < b and times[i] < last:
                relative = times[i] - onset
                if relative >= start and relative < stop:
                    k = np.int64(np.floor((relative - start) / bin_size))
                    if 0 <= k < n_bins:
                        counts[row, group, k] += 1
                i += 1


def add_window_counts(times: Array, run_starts: Array, run_stops: Array, run_rows: Array, onsets: Array,
                      event_group: Array, *, window: tuple[float, float], bin_size: float, slack: float,
                      counts: Array) -> None:
    """Add spikes to ``counts[row, group, bin]`` around sorted ``onsets``.

    Parameters
    ----------
    times
        Spike times; ``times[run_starts[r]:run_stops[r]]`` is non-decreasing for every run ``r``.
    run_starts, run_stops, run_rows
        The runs, and the row of ``counts`` each one adds to (``-1``: skip the run).
    onsets, event_group
        Event times (sorted) and the group (second axis of ``counts``) of each event.
    window, bin_size
        A spike at ``t`` counts for an event at ``onset`` when ``window[0] <= t - onset < window[1]``, in bin
        ``floor((t - onset - window[0]) / bin_size)`` (bins past the last are dropped).
    slack
        Widening of the search for a window's first and last spike, before the exact test.
    counts
        int64 array (rows, groups, bins), updated in place.
    """
    def small(values: Array, dtype: type) -> Array:  # writable and C-ordered, so one compiled signature serves
        return np.require(values, dtype=dtype, requirements=["C", "W"])

    _add_window_counts(np.ascontiguousarray(times, dtype=np.float64), small(run_starts, np.int64),
                       small(run_stops, np.int64), small(run_rows, np.int64), small(onsets, np.float64),
                       small(event_group, np.int64), float(window[0]), float(window[1]), float(bin_size),
                       float(slack), counts)
