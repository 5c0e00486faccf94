"""The NumPy statistics against SciPy's, and the latency rule on known shapes."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from npc_lake.analysis.stats import half_rise_latency, signed_rank_p

stats = pytest.importorskip("scipy.stats", reason="SciPy (test extra) checks the signed-rank test")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(-6, 6), min_size=1, max_size=60))
def test_signed_rank_p_equals_scipy(differences: list[int]) -> None:
    values = np.asarray(differences, dtype=float)
    ours = float(signed_rank_p(values))
    if not values.any():
        assert ours == 1.0
        return
    theirs = stats.wilcoxon(values, zero_method="wilcox", correction=False, method="approx").pvalue
    assert ours == pytest.approx(theirs if math.isfinite(theirs) else 1.0, rel=1e-9, abs=1e-12)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.lists(st.integers(-4, 4), min_size=12, max_size=12), min_size=1, max_size=8))
def test_signed_rank_p_row_by_row_equals_one_row_at_a_time(rows: list[list[int]]) -> None:
    values = np.asarray(rows, dtype=float)
    together = signed_rank_p(values)
    assert together.shape == (len(rows),)
    assert together.tolist() == [float(signed_rank_p(row)) for row in values]


def test_half_rise_latency_of_a_step_and_of_nothing() -> None:
    rate = np.r_[np.full(40, 5.0), np.full(60, 45.0)]  # baseline 5 Hz, then 45 Hz from bin 40
    latency = half_rise_latency(rate, baseline=5.0, bin_size=0.001, smooth_bins=1)
    assert latency == pytest.approx(0.0405)
    assert math.isnan(half_rise_latency(np.full(100, 5.0), baseline=5.0, bin_size=0.001))
    assert math.isnan(half_rise_latency(np.empty(0), baseline=0.0, bin_size=0.001))
