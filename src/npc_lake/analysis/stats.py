"""The statistics the analysis tables state in their descriptions, in NumPy (no SciPy needed)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

Array = np.ndarray[Any, Any]


def _average_ranks(values: Array) -> tuple[Array, Array]:
    """Ranks (1-based, ties averaged) of ``values``, and the size of every group of tied values."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    starts = np.flatnonzero(np.concatenate([[True], ordered[1:] != ordered[:-1]]))
    sizes = np.diff(np.concatenate([starts, [ordered.size]]))
    group_rank = starts + (sizes + 1) / 2.0  # mean of ranks start+1 … start+size
    ranks = np.empty(values.size)
    ranks[order] = np.repeat(group_rank, sizes)
    return ranks, sizes


def signed_rank_p(differences: Array) -> float:
    """Two-sided p-value of the Wilcoxon signed-rank test of paired ``differences`` against zero.

    Zero differences are dropped; the statistic is compared with its normal approximation, with the
    variance corrected for ties and no continuity correction. Every difference zero (or none) gives 1.0.
    """
    nonzero = np.asarray(differences, dtype=np.float64)
    nonzero = nonzero[nonzero != 0]
    n = nonzero.size
    if n == 0:
        return 1.0
    ranks, ties = _average_ranks(np.abs(nonzero))
    positive = float(ranks[nonzero > 0].sum())
    mean = n * (n + 1) / 4.0
    variance = n * (n + 1) * (2 * n + 1) / 24.0 - float((ties.astype(np.float64) ** 3 - ties).sum()) / 48.0
    if variance <= 0:
        return 1.0
    z = (positive - mean) / math.sqrt(variance)
    return min(1.0, math.erfc(abs(z) / math.sqrt(2.0)))


def half_rise_latency(rate: Array, *, baseline: float, bin_size: float, smooth_bins: int = 5) -> float:
    """Time (bin centre, from the first bin's start) at which ``rate`` first gets halfway to its peak.

    ``rate`` is smoothed with a centred boxcar of ``smooth_bins`` bins first; NaN when its peak does not
    exceed ``baseline``.
    """
    if rate.size == 0:
        return math.nan
    width = max(1, min(smooth_bins, rate.size))
    smoothed = np.convolve(rate, np.ones(width) / width, mode="same")
    peak = float(smoothed.max())
    if not peak > baseline:
        return math.nan
    first = int(np.flatnonzero(smoothed >= baseline + 0.5 * (peak - baseline))[0])
    return (first + 0.5) * bin_size
