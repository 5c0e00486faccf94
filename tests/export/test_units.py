"""Spike batches are read ahead on a thread while h5py writes: errors reach the writer, threads end."""

from __future__ import annotations

from collections.abc import Iterator

import polars as pl
import pytest

from npc_lake.export.units import _Prefetched


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
