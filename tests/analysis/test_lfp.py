"""The LFP band-pass: the band it keeps, zero phase, and chunking that changes nothing."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from npc_lake.analysis.lfp import bandpass_chunks, bandpass_kernel

RATE = 2500.0


def test_kernel_keeps_the_band_and_removes_the_rest() -> None:
    kernel = bandpass_kernel((1.0, 300.0), rate=RATE)
    assert kernel.size % 2 == 1 and np.allclose(kernel, kernel[::-1])
    frequencies = np.fft.rfftfreq(1 << 18, 1 / RATE)
    gain = np.abs(np.fft.rfft(kernel, 1 << 18))
    at = {f: gain[np.argmin(np.abs(frequencies - f))] for f in (0.0, 5.0, 100.0, 250.0, 400.0, 600.0)}
    assert at[0.0] < 0.01 and at[400.0] < 0.01 and at[600.0] < 0.01
    assert all(abs(at[f] - 1) < 0.01 for f in (5.0, 100.0, 250.0))
    with pytest.raises(ValueError, match="0 < low < high"):
        bandpass_kernel((300.0, 2000.0), rate=RATE)


@settings(max_examples=20, deadline=None)
@given(chunk=st.integers(50, 5000), n=st.integers(1, 6000))
def test_chunks_equal_one_convolution(chunk: int, n: int) -> None:
    rng = np.random.default_rng(n)
    samples = rng.standard_normal((n, 3)).astype(np.float32)
    kernel = bandpass_kernel((20.0, 300.0), rate=RATE)
    got = np.concatenate(list(bandpass_chunks(samples, kernel, chunk_samples=chunk)))
    want = np.stack([np.convolve(samples[:, c].astype(np.float64), kernel, mode="full")[
        (kernel.size - 1) // 2:(kernel.size - 1) // 2 + n] for c in range(3)], axis=1)
    assert got.shape == (n, 3) and np.allclose(got, want, atol=1e-5)


def test_filtering_shifts_nothing_in_time() -> None:
    t = np.arange(int(4 * RATE)) / RATE
    signal = np.sin(2 * np.pi * 8.0 * t)[:, None]
    out = np.concatenate(list(bandpass_chunks(signal, bandpass_kernel((2.0, 100.0), rate=RATE),
                                              chunk_samples=1000)))
    middle = slice(int(RATE), int(3 * RATE))  # away from the edges
    assert np.abs(out[middle, 0] - signal[middle, 0]).max() < 0.02
