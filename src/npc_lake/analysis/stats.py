"""The statistics the analysis tables state in their descriptions, in NumPy (no SciPy needed)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

Array = np.ndarray[Any, Any]


def signed_rank_p(differences: Array) -> Array:
    """Two-sided p-values of the Wilcoxon signed-rank test of paired differences against zero, row by row.

    Zero differences are dropped; the statistic is compared with its normal approximation, with the
    variance corrected for ties and no continuity correction. A row whose differences are all zero gives 1.0.

    Parameters
    ----------
    differences
        (rows, pairs) array, or one row of pairs.

    Returns
    -------
    numpy.ndarray
        One p-value per row (an array of shape ``()`` for one row).
    """
    values = np.asarray(differences, dtype=np.float64)
    rows = np.atleast_2d(values)
    n_pairs = rows.shape[1]
    order = np.argsort(np.abs(rows), axis=1, kind="stable")
    magnitude = np.abs(np.take_along_axis(rows, order, axis=1))
    # ties: each sorted position belongs to the run of equal magnitudes from ``first`` to ``last``
    position = np.broadcast_to(np.arange(n_pairs), rows.shape)
    new = np.ones(rows.shape, dtype=bool)
    new[:, 1:] = magnitude[:, 1:] != magnitude[:, :-1]
    first = np.maximum.accumulate(np.where(new, position, 0), axis=1)
    end = np.ones(rows.shape, dtype=bool)
    end[:, :-1] = new[:, 1:]
    last = np.minimum.accumulate(np.where(end, position, n_pairs - 1)[:, ::-1], axis=1)[:, ::-1]
    zeros = (rows == 0).sum(axis=1, keepdims=True)
    rank = (first + last) / 2.0 + 1.0 - zeros  # ranks among the nonzero differences (zeros sort first)
    positive = np.take_along_axis(rows, order, axis=1) > 0
    w_plus = np.where(positive, rank, 0.0).sum(axis=1)
    n = n_pairs - zeros[:, 0]
    size = (last - first + 1).astype(np.float64)
    tie_term = np.where(magnitude > 0, size**2 - 1.0, 0.0).sum(axis=1)  # sums (t^3 - t) over tie groups
    variance = n * (n + 1) * (2 * n + 1) / 24.0 - tie_term / 48.0
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.abs(w_plus - n * (n + 1) / 4.0) / np.sqrt(variance)
    p = np.array([math.erfc(v / math.sqrt(2.0)) if np.isfinite(v) else 1.0 for v in z])
    p = np.where((n > 0) & (variance > 0), np.minimum(p, 1.0), 1.0)
    return p.reshape(values.shape[:-1]) if values.ndim > 1 else p.reshape(())


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
