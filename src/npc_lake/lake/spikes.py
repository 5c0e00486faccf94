"""Streaming one session's spike times out of the lake, unit by unit, in a requested unit order.

A session's spikes are stored in several Parquet files (one series per structure and QC flag of their
units, see :mod:`npc_lake.lake.stream`), each holding whole units in the session's unit order. The fast
path opens every file of the session as a stream of whole units and, for each requested unit, takes it
from the stream whose next unit it is: one sequential pass over every file, a read buffer per file in
memory. Should the stored order not allow that (a unit not at the head of any stream, a unit split
across files, spikes out of time order: a lake rewritten by another tool), the stream switches, for the
units not yet yielded, to fetching groups of units by filter and sorting them: slower, always right.
"""

from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from npc_lake.lake.store import Lake

#: Units fetched together by the fallback path.
UNITS_PER_BATCH = 100
#: Rows read from one Parquet file at a time by the fast path (one such buffer per file).
ROWS_PER_READ = 131_072
#: Rows gathered before a frame is yielded (writers prefer few large frames).
ROWS_PER_YIELD = 1_000_000
#: Columns of ``spike_times`` that a session's spike stream carries.
SPIKE_COLUMNS = ("unit_id", "spike_time", "amplitude")


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


class _FileUnits:
    """The units of one Parquet file in stored order, each whole: ``head`` is the next one's id."""

    def __init__(self, fragment: pads.Fragment, columns: list[str]) -> None:
        parquet = pq.ParquetFile(fragment.path, filesystem=fragment.filesystem, read_dictionary=["unit_id"],
                                 pre_buffer=False)  # pre-buffering reads ahead ~30 MB per open file
        self._reads = parquet.iter_batches(batch_size=ROWS_PER_READ, columns=columns)  # no read-ahead
        self._ready: deque[tuple[str, pl.DataFrame]] = deque()
        self._pending: tuple[str, list[pl.DataFrame]] | None = None  # a unit that may go on in the next read
        self.head: str | None = None
        self._fill()

    def _fill(self) -> None:
        while not self._ready:
            batch = next(self._reads, None)
            if batch is None:
                if self._pending is not None:
                    unit_id, parts = self._pending
                    self._ready.append((unit_id, pl.concat(parts)))
                    self._pending = None
                break
            values, lengths = _runs(batch)
            frame = pl.from_arrow(batch)
            assert isinstance(frame, pl.DataFrame)
            frame = frame.with_columns(pl.col("unit_id").cast(pl.String))
            offset = 0
            for unit_id, length in zip(values, lengths, strict=True):
                part = frame.slice(offset, length)
                offset += length
                if self._pending is not None and self._pending[0] == unit_id:
                    self._pending[1].append(part)
                    continue
                if self._pending is not None:
                    self._ready.append((self._pending[0], pl.concat(self._pending[1])))
                self._pending = (unit_id, [part])
        self.head = self._ready[0][0] if self._ready else None

    def pop(self) -> pl.DataFrame:
        """The head unit's rows; the next unit becomes the head."""
        _, frame = self._ready.popleft()
        if not self._ready:
            self._fill()
        else:
            self.head = self._ready[0][0]
        return frame


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
    streams = [_FileUnits(f, columns) for f in dataset.get_fragments(filter=pc.field("session_id") == session_id)]
    heads: dict[str, _FileUnits] = {}
    for stream in streams:
        if stream.head is not None:
            if stream.head in heads:  # a unit split across files
                yield from _by_filter(lake, session_id, version, [u for u, _ in expected], columns)
                return
            heads[stream.head] = stream
    gathered: list[pl.DataFrame] = []
    rows = 0
    for position, (unit_id, count) in enumerate(expected):
        found = heads.get(unit_id)
        if found is not None:
            del heads[unit_id]
        frame = found.pop() if found is not None else None
        times: Any = frame["spike_time"].to_numpy() if frame is not None else None
        if frame is None or frame.height != count or bool((np.diff(times) < 0).any()) or (
                found is not None and found.head is not None and found.head in heads):
            if gathered:
                yield pl.concat(gathered)
            yield from _by_filter(lake, session_id, version, [u for u, _ in expected[position:]], columns)
            return
        assert found is not None
        if found.head is not None:
            heads[found.head] = found
        gathered.append(frame)
        rows += frame.height
        if rows >= ROWS_PER_YIELD:
            yield pl.concat(gathered)
            gathered, rows = [], 0
    if gathered:
        yield pl.concat(gathered)


#: A (structure, default_qc) pair of units; spike_times stores each pair's spikes in its own files.
UnitGroup = tuple[str | None, bool | None]


@dataclass(frozen=True)
class SpikeChunk:
    """Spike times of one stored chunk with their units dictionary-coded: row ``i`` is a spike of
    ``unit_ids[codes[i]]`` at ``spike_times[i]``. Rows keep their stored order."""

    unit_ids: list[str]
    codes: np.ndarray[Any, np.dtype[np.int32]]
    spike_times: np.ndarray[Any, np.dtype[np.float64]]


def _may_hold(statistics: Any, value: Any) -> bool:
    """Whether a column chunk with these statistics may hold ``value`` (``None``: a null)."""
    if statistics is None:
        return True
    if value is None:
        return not statistics.has_null_count or statistics.null_count > 0
    return not statistics.has_min_max or statistics.min <= value <= statistics.max


def _may_hold_any(statistics: Any, wanted: list[str]) -> bool:
    """Whether a column chunk with these statistics may hold one of ``wanted`` (sorted, no nulls)."""
    if statistics is None or not statistics.has_min_max:
        return True
    first = bisect.bisect_left(wanted, statistics.min)
    return first < len(wanted) and wanted[first] <= statistics.max


def _row_groups(metadata: pq.FileMetaData, unit_groups: Collection[UnitGroup],
                unit_ids: list[str] | None = None) -> list[int]:
    """Row groups of a file whose statistics do not rule out every one of ``unit_groups`` (and of the sorted
    ``unit_ids``, when given)."""
    names = metadata.schema.names
    keep = []
    for index in range(metadata.num_row_groups):
        group = metadata.row_group(index)
        stats = {name: group.column(names.index(name)).statistics if name in names else None
                 for name in ("structure", "default_qc", "unit_id")}
        if unit_ids is not None and not _may_hold_any(stats["unit_id"], unit_ids):
            continue
        if any(_may_hold(stats["structure"], structure) and _may_hold(stats["default_qc"], qc)
               for structure, qc in unit_groups):
            keep.append(index)
    return keep


class SpikeFiles:
    """The files of the ``spike_times`` table, listed once from the Delta log with their statistics, read
    session by session with units as dictionary codes.

    Parameters
    ----------
    lake
        The lake.
    version
        Version of the ``spike_times`` table to read (latest if ``None``).
    """

    def __init__(self, lake: Lake, *, version: int | None = None) -> None:
        table = lake.delta_table("spike_times", version=version)
        self._filesystem, root = lake.arrow_filesystem()
        self._root = f"{root}/spike_times"
        actions = (pl.DataFrame(pa.table(table.get_add_actions(flatten=True))) if table is not None
                   else pl.DataFrame({"path": [], "partition.session_id": []},
                                     schema={"path": pl.String, "partition.session_id": pl.String}))
        self._files: dict[str, list[tuple[str, Any, Any]]] = {}
        lows = actions["min.structure"] if "min.structure" in actions.columns else None
        highs = actions["max.structure"] if "max.structure" in actions.columns else None
        for row, (path, session_id) in enumerate(actions.select("path", "partition.session_id").iter_rows()):
            bounds = (lows[row], highs[row]) if lows is not None and highs is not None else (None, None)
            self._files.setdefault(session_id, []).append((unquote(path), *bounds))

    def chunks(self, session_id: str, *, unit_groups: Collection[UnitGroup],
               unit_ids: Collection[str] | None = None) -> Iterator[SpikeChunk]:
        """Yield the spike times of one session's units of ``unit_groups``, chunk by chunk.

        Only the files and row groups whose statistics allow units of those (structure, default_qc)
        groups (and, with ``unit_ids``, one of those units) are read; rows of other units in them come along
        (callers select units by id).

        Parameters
        ----------
        session_id
            The session.
        unit_groups
            The (structure, default_qc) pairs of the units wanted; ``None`` stands for a null.
        unit_ids
            The units wanted, when known: row groups whose unit_id range holds none of them are skipped.

        Yields
        ------
        SpikeChunk
            One per stored record batch, in stored order (each unit's spikes are in time order in a
            lake written by npc_lake; callers must not rely on it for lakes written by other tools).
        """
        structures = {structure for structure, _ in unit_groups}
        wanted = sorted(unit_ids) if unit_ids is not None else None
        for path, low, high in self._files.get(session_id, []):
            if None not in structures and low is not None and high is not None and not any(
                    low <= structure <= high for structure in structures if structure is not None):
                continue  # the log's statistics rule the file out without opening it
            parquet = pq.ParquetFile(f"{self._root}/{path}", filesystem=self._filesystem,
                                     read_dictionary=["unit_id"])
            row_groups = _row_groups(parquet.metadata, unit_groups, wanted)
            if not row_groups:
                continue
            table = parquet.read_row_groups(row_groups, columns=["unit_id", "spike_time"], use_threads=False)
            for batch in table.to_batches():
                units = batch.column("unit_id")
                encoded = units if isinstance(units, pa.DictionaryArray) else pc.dictionary_encode(units)
                yield SpikeChunk(unit_ids=encoded.dictionary.to_pylist(),
                                 codes=encoded.indices.to_numpy(zero_copy_only=False).astype(np.int32, copy=False),
                                 spike_times=batch.column("spike_time").to_numpy(zero_copy_only=False))
