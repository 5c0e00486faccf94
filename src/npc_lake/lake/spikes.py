"""Streaming one session's spike times out of the lake, unit by unit, in a requested unit order.

The fast path reads the session's Parquet files once, in the order they were written (file names carry a
sequence number), and cuts the rows at unit boundaries. That works because ingest writes every unit's
spikes together, in time order, and in the order the NWB export wants them (the source's unit order).
Should the stored order differ from the requested one (a lake compacted by another tool, files written
before names carried a sequence number), the stream switches, for the units not yet yielded, to
fetching groups of units by filter and sorting them: slower (each group re-reads the row groups that may
hold it) but always right.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from npc_lake.lake.store import Lake

#: Units fetched together by the fallback path.
UNITS_PER_BATCH = 100
#: Rows read from a Parquet file at a time by the fast path.
ROWS_PER_READ = 1_000_000
#: Columns of ``spike_times`` that a session's spike stream carries.
SPIKE_COLUMNS = ("unit_id", "spike_time", "amplitude")


def _fragments(dataset: pads.Dataset, session_id: str) -> list[pads.Fragment]:
    """The session's files, in the order they were written (their names start with a sequence number)."""
    fragments = dataset.get_fragments(filter=pc.field("session_id") == session_id)
    return sorted(fragments, key=lambda f: f.path.rsplit("/", 1)[-1])


def _by_filter(lake: Lake, session_id: str, version: int | None, unit_ids: Sequence[str],
               columns: list[str]) -> Iterator[pl.DataFrame]:
    """``unit_ids``' spikes, ``UNITS_PER_BATCH`` units per frame, each unit's in time order."""
    spikes = lake.scan("spike_times", version=version).filter(pl.col("session_id") == session_id).select(columns)
    for first in range(0, len(unit_ids), UNITS_PER_BATCH):
        chunk = list(unit_ids[first:first + UNITS_PER_BATCH])
        order = pl.DataFrame({"unit_id": chunk, "_order": range(len(chunk))})
        rows = spikes.filter(pl.col("unit_id").is_in(chunk)).collect()
        yield rows.join(order, on="unit_id").sort("_order", "spike_time", maintain_order=True).drop("_order")


def _runs(batch: pa.RecordBatch) -> tuple[list[str], list[int]]:
    """Unit ids and lengths of the runs of equal ``unit_id`` in ``batch``, found on dictionary codes."""
    column = batch.column("unit_id")
    encoded = column if isinstance(column, pa.DictionaryArray) else pc.dictionary_encode(column)
    codes = encoded.indices.to_numpy(zero_copy_only=False)
    starts = np.concatenate([[0], np.flatnonzero(codes[1:] != codes[:-1]) + 1])
    lengths = np.diff(np.append(starts, codes.shape[0]))
    return encoded.dictionary.take(codes[starts]).to_pylist(), lengths.tolist()


def _in_order(times: np.ndarray[Any, Any], lengths: list[int]) -> bool:
    """Whether ``times`` (units one after another, ``lengths`` spikes each) is in order within every unit."""
    drops = np.flatnonzero(np.diff(times) < 0) + 1
    return bool(np.isin(drops, np.cumsum(lengths)).all())


def stream_session_spikes(lake: Lake, session_id: str, *, unit_ids: Sequence[str], counts: Sequence[int],
                          version: int | None = None) -> Iterator[pl.DataFrame]:
    """Yield the spikes of ``unit_ids`` in that order, each unit whole and in time order within one frame.

    Parameters
    ----------
    lake
        The lake.
    session_id
        The session.
    unit_ids
        The units whose spikes are wanted, in the order wanted.
    counts
        Number of spikes of each unit (``units.num_spikes``); units with none are skipped.
    version
        Version of the ``spike_times`` table to read (latest if ``None``).

    Yields
    ------
    polars.DataFrame
        Columns ``unit_id``, ``spike_time`` and ``amplitude`` (when the table has it).
    """
    dataset = lake.arrow_dataset("spike_times", version=version)
    if dataset is None:
        return
    columns = [c for c in SPIKE_COLUMNS if c in dataset.schema.names]
    expected = [(u, int(c)) for u, c in zip(unit_ids, counts, strict=True) if c > 0]
    position, pending = 0, pl.DataFrame()  # next expected unit; rows of a unit not yet complete
    pending = pl.DataFrame()  # rows of a unit not yet complete, and its (unit id, rows so far)
    pending_runs: tuple[list[str], list[int]] = ([], [])
    for fragment in _fragments(dataset, session_id):
        parquet = pq.ParquetFile(fragment.path, filesystem=fragment.filesystem, read_dictionary=["unit_id"])
        for record_batch in parquet.iter_batches(batch_size=ROWS_PER_READ, columns=columns):  # no read-ahead
            values, lengths = _runs(record_batch)
            rows = pl.from_arrow(record_batch)
            assert isinstance(rows, pl.DataFrame)
            frame = rows.with_columns(pl.col("unit_id").cast(pl.String))
            if pending.height:
                frame = pl.concat([pending, frame])
                if values[0] == pending_runs[0][0]:
                    lengths[0] += pending_runs[1][0]
                else:
                    values, lengths = pending_runs[0] + values, pending_runs[1] + lengths
            start, complete = position, 0  # complete: rows of whole expected units at the head of frame
            for index, (unit_id, length) in enumerate(zip(values, lengths, strict=True)):
                last = index == len(values) - 1
                if position >= len(expected) or unit_id != expected[position][0] or length > expected[position][1] \
                        or (length < expected[position][1] and not last):
                    yield from _by_filter(lake, session_id, version, [u for u, _ in expected[start:]], columns)
                    return
                if length < expected[position][1]:  # the rest of this unit is in the next read
                    pending_runs = ([unit_id], [length])
                    break
                complete += length
                position += 1
            head, pending = frame.head(complete), frame.slice(complete)
            if not _in_order(head["spike_time"].to_numpy(), lengths[:position - start]):
                yield from _by_filter(lake, session_id, version, [u for u, _ in expected[start:]], columns)
                return
            if head.height:
                yield head
    if position < len(expected):  # units missing from the stored order: let the filter path find them
        yield from _by_filter(lake, session_id, version, [u for u, _ in expected[position:]], columns)
