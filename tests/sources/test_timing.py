"""Clock alignment: barcodes survive any two clocks, vsync blocks split per task run, the display lag."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from npc_lake.sources.timing import BAR_DURATION, decode_barcodes, display_lag, fit_clock, vsync_blocks
from npc_lake.testing.synth_raw import barcode_edges


def worst_case_weight(points: np.ndarray, at: np.ndarray) -> float:
    """max over ``at`` of the summed |weight| a least-squares line through ``points`` gives each point there."""
    centred = points - points.mean()
    weights = 1 / points.size + np.outer(at - points.mean(), centred) / (centred**2).sum()
    return float(np.abs(weights).sum(axis=1).max())


@settings(max_examples=60, deadline=None)
@given(values=st.lists(st.integers(0, 2**32 - 1), min_size=2, max_size=40, unique=True),
       drift_ppm=st.floats(-100, 100), start=st.floats(-5.0, 20.0), first_sample=st.integers(0, 10**9),
       gap=st.floats(1.5, 60.0))
def test_barcodes_decode_on_both_clocks_and_fit_the_probe_clock(values: list[int], drift_ppm: float, start: float,
                                                                 first_sample: int, gap: float) -> None:
    starts = 30.0 + np.arange(len(values)) * (gap + 1.0)
    rising, falling = barcode_edges(starts, np.array(values, dtype=np.int64))
    sync_rate, probe_rate = 100_000.0, 30_000.0 * (1 + drift_ppm * 1e-6)

    def on_probe(t: np.ndarray) -> np.ndarray:
        return first_sample + np.rint((t - start) * probe_rate)

    sync = decode_barcodes(np.rint(rising * sync_rate) / sync_rate, np.rint(falling * sync_rate) / sync_rate)
    probe = decode_barcodes(on_probe(rising), on_probe(falling), bar=BAR_DURATION * 30_000, min_gap=30_000.0)
    assert sync.values.tolist() == values and probe.values.tolist() == values
    fit = fit_clock(probe, sync)
    assert fit is not None and fit.n_barcodes == len(values)
    spikes = np.linspace(starts[0], starts[-1], 500)
    error = np.abs(fit.to_sync(on_probe(spikes)) - spikes).max() * 30_000  # in probe samples
    # a spike is rounded to its sample (half a sample); the fit adds the barcode edges' rounding on both clocks
    # (half a probe sample, and 5 µs = 0.15 probe samples on sync), which at any time reaches the fit scaled by
    # the sum of the least-squares weights of the edges there (the rigs' barcodes, at unrelated phases for hours,
    # average it out; a few evenly spaced ones with no drift, as hypothesis finds, need not)
    edges = np.concatenate([sync.edges_of(i) for i in range(len(values))])  # the points the fit uses
    assert error < 0.5 + 0.65 * worst_case_weight(edges, spikes) + 1e-9


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**16), drift_ppm=st.floats(-100, 100), start=st.floats(-5.0, 20.0))
def test_rig_like_barcodes_fit_every_spike_within_one_sample(seed: int, drift_ppm: float, start: float) -> None:
    """The rigs' case: a barcode every 25-35 s for 20 min, at unrelated phases on both clocks."""
    rng = np.random.default_rng(seed)
    starts = 30.0 + np.cumsum(rng.uniform(25.0, 35.0, 40))
    values = rng.choice(2**32, size=40, replace=False)
    rising, falling = barcode_edges(starts, values)
    probe_rate = 30_000.0 * (1 + drift_ppm * 1e-6)

    def on_probe(t: np.ndarray) -> np.ndarray:
        return np.rint((t - start) * probe_rate)

    sync = decode_barcodes(np.rint(rising * 100_000.0) / 100_000.0, np.rint(falling * 100_000.0) / 100_000.0)
    probe = decode_barcodes(on_probe(rising), on_probe(falling), bar=BAR_DURATION * 30_000, min_gap=30_000.0)
    fit = fit_clock(probe, sync)
    assert fit is not None and fit.n_barcodes == 40
    spikes = np.linspace(starts[0], starts[-1], 2000)
    assert np.abs(fit.to_sync(on_probe(spikes)) - spikes).max() * 30_000 < 1.0


def test_too_few_shared_barcodes_give_no_fit() -> None:
    one, other = barcode_edges(np.array([10.0]), np.array([7])), barcode_edges(np.array([10.0, 40.0]), np.array([7, 8]))
    assert fit_clock(decode_barcodes(*one), decode_barcodes(*other)) is None
    assert fit_clock(decode_barcodes(*other), decode_barcodes(*other)) is not None
    unrelated = barcode_edges(np.array([10.0, 40.0]), np.array([5, 6]))
    assert fit_clock(decode_barcodes(*unrelated), decode_barcodes(*other)) is None


def test_vsync_blocks_follow_stim_running_or_gaps() -> None:
    first = 10 + np.arange(100) / 60
    second = first[-1] + 0.5 + np.arange(50) / 60  # only half a second later: one block by gaps alone
    edges = np.concatenate([first, second])
    assert [b.size for b in vsync_blocks(edges)] == [150]
    running = (np.array([first[0] - 0.05, second[0] - 0.05]), np.array([first[-1] + 0.05, second[-1] + 0.05]))
    assert [b.size for b in vsync_blocks(edges, running=running)] == [100, 50]
    assert [b.size for b in vsync_blocks(np.concatenate([first, second + 5]))] == [100, 50]
    assert vsync_blocks(np.array([])) == []


def test_display_lag_is_the_median_delay_to_the_photodiode() -> None:
    flips = 5 + np.arange(600) / 60
    diode = flips[::3] + 0.021 + np.random.default_rng(0).normal(0, 2e-4, flips[::3].size)
    assert abs(display_lag(flips, np.sort(diode), every=3) - 0.021) < 1e-4
    every_frame = flips + 0.021  # a lag longer than a frame: edges are matched to flips in order, not by proximity
    assert display_lag(flips, every_frame) == pytest.approx(0.021, abs=1e-9)
    assert display_lag(flips, np.array([])) is None
