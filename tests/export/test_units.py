"""The units table's spike trains are streamed into the file: batches are read ahead on a thread while h5py
writes (errors reach the writer, threads end), and memory stays far below the spike data."""

from __future__ import annotations

import time
import tracemalloc
import weakref
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from npc_lake.export.nwbfile import write_nwbfile
from npc_lake.export.units import PREFETCH, _Prefetched

from conftest import tiny_bundle

pynwb = pytest.importorskip("pynwb")

SESSION = "600001_2024-01-02"


def frames(n: int, *, fail_at: int | None = None) -> Iterator[pl.DataFrame]:
    for i in range(n):
        if i == fail_at:
            raise OSError(f"disk gone at batch {i}")
        yield pl.DataFrame({"unit_id": [f"u{i}"], "spike_time": [float(i)]})


def test_prefetched_frames_come_in_order() -> None:
    got = [f["unit_id"][0] for f in _Prefetched(frames(7), depth=2)]
    assert got == [f"u{i}" for i in range(7)]


def test_an_error_in_the_reader_is_raised_in_the_writer() -> None:
    stream = _Prefetched(frames(5, fail_at=3), depth=1)
    assert [f["unit_id"][0] for f in (next(stream), next(stream), next(stream))] == ["u0", "u1", "u2"]
    with pytest.raises(OSError, match="disk gone at batch 3"):
        next(stream)


def test_a_writer_that_stops_early_stops_the_reader() -> None:
    stream = _Prefetched(frames(1000), depth=1)
    next(stream)
    stream.close()
    stream._thread.join(timeout=5)
    assert not stream._thread.is_alive()


def test_streams_two_million_spikes(tmp_path: Path) -> None:
    """2e6 spikes (+ amplitudes) in 25 batches: at most PREFETCH + 2 batches alive, memory far below the data."""
    n_units, per_unit, units_per_batch = 50, 40_000, 2
    unit_ids = [f"{SESSION}_A-{i:03d}" for i in range(n_units)]
    live = {"now": 0, "max": 0}

    def train(i: int) -> np.ndarray:
        return np.sort(np.random.default_rng(i).uniform(0, 7200, per_unit))

    def released() -> None:
        live["now"] -= 1

    def batches() -> Iterator[pl.DataFrame]:
        for start in range(0, n_units, units_per_batch):
            ids = unit_ids[start:start + units_per_batch]
            times = np.concatenate([train(start + k) for k in range(len(ids))])
            frame = pl.DataFrame({
                "unit_id": pl.Series(ids, dtype=pl.String).gather(np.repeat(np.arange(len(ids)), per_unit)),
                "spike_time": times, "amplitude": times.astype(np.float32),
            })
            live["now"] += 1
            live["max"] = max(live["max"], live["now"])
            weakref.finalize(frame, released)
            yield frame

    bundle = tiny_bundle(SESSION)
    bundle.tables["units"] = pl.DataFrame({
        "session_id": [SESSION] * n_units, "unit_id": unit_ids, "num_spikes": [per_unit] * n_units,
        "electrode_group_name": ["probeA"] * n_units,
    }, schema_overrides={"num_spikes": pl.Int64})
    bundle.spike_batches = batches
    path = tmp_path / "big.nwb"
    t0 = time.perf_counter()
    tracemalloc.start()
    try:
        write_nwbfile(bundle, path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    print(f"2e6 spikes written in {time.perf_counter() - t0:.2f} s (traced), {path.stat().st_size / 1e6:.1f} MB "
          f"on disk, traced peak {peak / 1e6:.1f} MB, at most {live['max']} batch(es) alive")
    assert live["max"] <= PREFETCH + 2  # being written, queued, and the one the reader waits to queue
    assert peak < 8e6  # the spike times and amplitudes together are 24 MB
    with pynwb.NWBHDF5IO(str(path), mode="r", load_namespaces=True) as io:
        units = io.read().units
        spikes = units["spike_times"].target.data
        assert spikes.shape == (n_units * per_unit,)
        assert spikes.compression == "gzip"
        assert units["spike_times_index"].data[-1] == n_units * per_unit
        for i in (0, 17, 49):
            assert np.array_equal(units.get_unit_spike_times(i), train(i))
            assert np.array_equal(units["spike_amplitudes"][i], train(i).astype(np.float32))
