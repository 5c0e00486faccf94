"""The two counting engines give the same counts, equal to counting every (spike, event) pair."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from npc_lake.analysis import counting
from npc_lake.analysis.alignment import find_runs
from npc_lake.analysis.counting import add_window_counts


def pairwise(codes: np.ndarray, times: np.ndarray, rows: np.ndarray, onsets: np.ndarray, groups: np.ndarray,
             window: tuple[float, float], bin_size: float, shape: tuple[int, int, int]) -> np.ndarray:
    counts = np.zeros(shape, dtype=np.int64)
    for code, t in zip(codes.tolist(), times.tolist(), strict=True):
        if rows[code] < 0:
            continue
        for onset, group in zip(onsets.tolist(), groups.tolist(), strict=True):
            relative = t - onset
            if window[0] <= relative < window[1]:
                b = int(np.floor((relative - window[0]) / bin_size))
                if 0 <= b < shape[2]:
                    counts[rows[code], group, b] += 1
    return counts


@settings(max_examples=40, deadline=None)
@given(n_spikes=st.integers(0, 400), n_units=st.integers(1, 5), n_events=st.integers(1, 30),
       bin_size=st.sampled_from([0.001, 0.01, 0.025, 0.1]), seed=st.integers(0, 2**16), shuffled=st.booleans())
def test_numpy_and_numba_equal_the_pairwise_count(n_spikes: int, n_units: int, n_events: int, bin_size: float,
                                                  seed: int, shuffled: bool) -> None:
    rng = np.random.default_rng(seed)
    codes = np.sort(rng.integers(0, n_units, n_spikes)).astype(np.int32)
    times = np.round(rng.uniform(0, 20, n_spikes), 3)  # ties with onsets and bin edges happen
    order = np.lexsort((times, codes))
    codes, times = codes[order], times[order]
    if shuffled:
        mix = rng.permutation(n_spikes)
        codes, times = codes[mix], times[mix]
    rows = np.where(rng.random(n_units) < 0.8, rng.permutation(n_units), -1).astype(np.int64)
    onsets = np.sort(np.round(rng.uniform(0, 20, n_events), 2))
    groups = rng.integers(0, 3, n_events).astype(np.int64)
    window = (-0.25, 0.5)
    shape = (n_units, 3, int(np.ceil(round(0.75 / bin_size, 9))))
    want = pairwise(codes, times, rows, onsets, groups, window, bin_size, shape)
    runs = find_runs(codes, times)
    for engine in ("numpy", "numba"):
        got = np.zeros(shape, dtype=np.int64)
        add_window_counts(runs.times, runs.starts, runs.stops, rows[runs.codes] if runs.codes.size else runs.codes,
                          onsets, groups, window=window, bin_size=bin_size, slack=1e-6, counts=got,
                          engine=engine)  # type: ignore[arg-type]
        assert np.array_equal(got, want), engine


def test_auto_hands_large_counts_to_the_compiled_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    called = []
    monkeypatch.setattr(counting, "_compiled", lambda *args: called.append(args))
    times = np.arange(1000, dtype=np.float64) * 0.001
    starts, stops, rows = np.array([0]), np.array([1000]), np.array([0])
    onsets, groups = np.array([0.5]), np.array([0])
    counts = np.zeros((1, 1, 10), dtype=np.int64)
    add_window_counts(times, starts, stops, rows, onsets, groups, window=(-0.5, 0.5), bin_size=0.1, slack=1e-6,
                      counts=counts)
    assert not called and counts.sum() == 1000
    monkeypatch.setattr(counting, "NUMBA_MIN_SPIKES", 500)
    add_window_counts(times, starts, stops, rows, onsets, groups, window=(-0.5, 0.5), bin_size=0.1, slack=1e-6,
                      counts=counts)
    assert len(called) == 1
