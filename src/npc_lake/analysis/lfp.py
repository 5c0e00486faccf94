"""Band-pass filtering of LFP samples, chunk by chunk, in NumPy.

The filter is a linear-phase FIR band-pass (a Blackman-windowed sinc, odd length, applied centred), so it
shifts no feature in time (zero phase) and its output at a sample depends only on the samples within half a
kernel of it. :func:`bandpass_chunks` reads a (samples, channels) array, which may be an h5py dataset,
``chunk_samples`` rows at a time plus half a kernel either side (zeros beyond the ends), and convolves each
chunk through the FFT, so memory stays bounded whatever the recording's length.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np

Array = np.ndarray[Any, Any]
#: Transition width of the Blackman window in units of rate / taps (the main lobe): taps = 5.5 rate / width.
_BLACKMAN_WIDTH = 5.5


def bandpass_kernel(band: tuple[float, float], *, rate: float, transition: float | None = None) -> Array:
    """Taps of a zero-phase FIR band-pass that keeps ``band`` (Hz) at sample rate ``rate``.

    Parameters
    ----------
    band
        (low, high) cut-offs in Hz, the -6 dB points; ``0 < low < high < rate / 2``.
    rate
        Sample rate in Hz.
    transition
        Width of each transition band in Hz (default: ``min(low, 0.25 * (high - low))``); it sets the length.

    Returns
    -------
    numpy.ndarray
        Odd number of float64 taps, symmetric.
    """
    low, high = float(band[0]), float(band[1])
    if not 0 < low < high < rate / 2:
        raise ValueError(f"band {band} must satisfy 0 < low < high < rate / 2 = {rate / 2:g} Hz")
    width = transition if transition is not None else min(low, 0.25 * (high - low))
    taps = math.ceil(_BLACKMAN_WIDTH * rate / width) | 1
    t = np.arange(taps) - (taps - 1) / 2
    ideal = (2 * high / rate) * np.sinc(2 * high / rate * t) - (2 * low / rate) * np.sinc(2 * low / rate * t)
    return ideal * np.blackman(taps)


def bandpass_chunks(samples: Any, kernel: Array, *, chunk_samples: int = 250_000) -> Iterator[Array]:
    """Filter ``samples`` (n_samples × n_channels, any array-like that slices) with ``kernel``, in chunks.

    Yields float32 arrays of ``chunk_samples`` rows (the last one shorter) whose concatenation is the full
    convolution of each channel with the centred kernel, samples beyond either end taken as zero.
    """
    n = int(samples.shape[0])
    half = (kernel.size - 1) // 2
    for start in range(0, n, chunk_samples):
        stop = min(n, start + chunk_samples)
        lo, hi = max(0, start - half), min(n, stop + half)
        block = np.asarray(samples[lo:hi], dtype=np.float64)
        block = block.reshape(block.shape[0], -1)
        padded = np.zeros((stop - start + 2 * half, block.shape[1]))
        offset = lo - (start - half)
        padded[offset:offset + block.shape[0]] = block
        size = 1 << math.ceil(math.log2(padded.shape[0] + kernel.size - 1))
        spectrum = np.fft.rfft(padded, size, axis=0) * np.fft.rfft(kernel, size)[:, None]
        full = np.fft.irfft(spectrum, size, axis=0)
        yield full[2 * half:2 * half + stop - start].astype(np.float32)


__all__ = ["bandpass_chunks", "bandpass_kernel"]
