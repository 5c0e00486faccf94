"""Streaming a large table of one session into the lake with bounded memory.

``write_deltalake`` holds everything it is given until the commit, which for a session of ~1e8 spikes
is several GB. Here the batches are written to Parquet files one row group at a time (rolling to a new
file every ``rows_per_file`` rows), with per-file statistics for data skipping, and the files are then
committed in one Delta transaction that replaces the session's partition. Readers see the old rows or
the new rows, never a mixture.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from deltalake import DeltaTable, Schema
from deltalake.exceptions import DeltaError
from deltalake.transaction import AddAction, RemoveAction, create_table_with_add_actions

from npc_lake.errors import LakeError, storage_reason
from npc_lake.lake.store import Lake, retry_table_commits

ROWS_PER_FILE = 20_000_000
ROW_GROUP_ROWS = 262_144


@dataclass
class _FileStats:
    """Running statistics of one Parquet file, in the Delta log's JSON form."""

    rows: int = 0
    minimum: dict[str, Any] = field(default_factory=dict)
    maximum: dict[str, Any] = field(default_factory=dict)
    nulls: dict[str, int] = field(default_factory=dict)

    def update(self, batch: pa.RecordBatch) -> None:
        self.rows += batch.num_rows
        for name, column in zip(batch.schema.names, batch.columns, strict=True):
            self.nulls[name] = self.nulls.get(name, 0) + column.null_count
            if not (pa.types.is_integer(column.type) or pa.types.is_floating(column.type)
                    or pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
                continue
            bounds = pc.min_max(column)
            low, high = bounds["min"].as_py(), bounds["max"].as_py()
            if low is None:
                continue
            if isinstance(low, float) and (low != low or high != high):  # NaN poisons statistics: skip
                self.minimum[name] = self.maximum[name] = None
                continue
            if name in self.minimum and self.minimum[name] is None:
                continue
            self.minimum[name] = low if name not in self.minimum else min(self.minimum[name], low)
            self.maximum[name] = high if name not in self.maximum else max(self.maximum[name], high)

    def to_json(self) -> str:
        minimum = {k: v for k, v in self.minimum.items() if v is not None}
        maximum = {k: v for k, v in self.maximum.items() if v is not None}
        return json.dumps({"numRecords": self.rows, "minValues": minimum, "maxValues": maximum,
                           "nullCount": self.nulls})


def _parquet_options(schema: pa.Schema) -> dict[str, Any]:
    """Encoding for streamed tables: floats byte-stream-split, strings dictionary-encoded, zstd level 1.

    Measured on 3.8e7 spike rows: 1.75 s to write at 8.6 bytes/row, against 4.1 s at 11.7 bytes/row for
    plain zstd; DuckDB and Polars read both.
    """
    floats = [f.name for f in schema if pa.types.is_floating(f.type)]
    strings = [f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)]
    return {"compression": "zstd", "compression_level": 1, "use_byte_stream_split": floats,
            "use_dictionary": strings, "write_statistics": True}


class _GroupedFiles:
    """Parquet files in ``folder``, one rolling series per group key; every path opened goes to ``written``.

    Rows are buffered per group up to ``ROW_GROUP_ROWS`` (so at most that many rows per group are in memory),
    written as one row group, and a group's file is closed after ``rows_per_file`` rows. Batches must hold
    whole units, so that no unit spans two files.
    """

    def __init__(self, schema: pa.Schema, *, filesystem: pafs.FileSystem, folder: str, relative_folder: str,
                 partition: dict[str, str], rows_per_file: int, written: list[str]) -> None:
        self.schema, self.filesystem, self.folder = schema, filesystem, folder
        self.relative_folder, self.partition, self.rows_per_file = relative_folder, partition, rows_per_file
        self.written = written
        self.actions: list[AddAction] = []
        self._open: dict[Any, tuple[pq.ParquetWriter, str, _FileStats]] = {}
        self._buffers: dict[Any, list[pa.RecordBatch]] = {}
        self._files = 0

    def add(self, key: Any, rows: pa.Table) -> None:
        buffer = self._buffers.setdefault(key, [])
        buffer.extend(rows.to_batches())
        buffered = sum(b.num_rows for b in buffer)
        in_file = self._open[key][2].rows if key in self._open else 0
        if buffered >= ROW_GROUP_ROWS or in_file + buffered >= self.rows_per_file:
            self._flush(key)

    def _flush(self, key: Any) -> None:
        buffer = self._buffers.pop(key, [])
        if not buffer:
            return
        if key not in self._open:
            name = f"part-{self._files:05d}-{uuid.uuid4()}.zstd.parquet"  # numbered in the order opened
            self._files += 1
            self.written.append(f"{self.folder}/{name}")
            writer = pq.ParquetWriter(f"{self.folder}/{name}", self.schema, filesystem=self.filesystem,
                                      **_parquet_options(self.schema))
            self._open[key] = (writer, name, _FileStats())
        writer, _, stats = self._open[key]
        table = pa.Table.from_batches(buffer, schema=self.schema)
        writer.write_table(table, row_group_size=ROW_GROUP_ROWS)
        for batch in table.to_batches():
            stats.update(batch)
        if stats.rows >= self.rows_per_file:
            self._close(key)

    def _close(self, key: Any) -> None:
        writer, name, stats = self._open.pop(key)
        writer.close()
        info = self.filesystem.get_file_info(f"{self.folder}/{name}")
        self.actions.append(AddAction(path=f"{self.relative_folder}/{name}", size=info.size,
                                      partition_values=self.partition, modification_time=int(time.time() * 1000),
                                      data_change=True, stats=stats.to_json()))

    def finish(self) -> list[AddAction]:
        """Write what is buffered, close every file, and return their add actions (in file order)."""
        for key in list(self._buffers):
            self._flush(key)
        for key in list(self._open):
            self._close(key)
        return sorted(self.actions, key=lambda a: a.path)


def _group_batches(batches: Iterator[pa.RecordBatch], group_by: tuple[str, ...]) -> Iterator[tuple[Any, pa.Table]]:
    """(group key, rows of that key) for each batch; the whole batch under one key when ``group_by`` is empty."""
    for batch in batches:
        if batch.num_rows == 0:
            continue
        if not group_by:
            yield (), pa.Table.from_batches([batch])
            continue
        frame = pl.from_arrow(batch)
        assert isinstance(frame, pl.DataFrame)
        for key, rows in frame.group_by(list(group_by), maintain_order=True):
            yield key, rows.to_arrow().cast(batch.schema)


def write_partition_stream(lake: Lake, *, table_name: str, session_id: str, batches: Iterator[pa.RecordBatch],
                           schema: pa.Schema, description: str | None = None,
                           rows_per_file: int = ROWS_PER_FILE, group_by: tuple[str, ...] = (),
                           table: DeltaTable | None = None) -> DeltaTable:
    """Replace the ``session_id`` partition of ``table_name`` with ``batches``, in one commit.

    Parameters
    ----------
    lake
        The lake.
    table_name
        A table partitioned by ``session_id`` only.
    session_id
        The (validated) session whose rows are replaced.
    batches
        Record batches of ``schema`` (which includes ``session_id``); consumed once.
    schema
        Arrow schema of the batches.
    description
        Table description, used when the table is created.
    rows_per_file
        Rows per Parquet file.
    group_by
        Columns whose distinct values get files of their own (each batch must hold whole groups of rows
        that belong together, e.g. whole units), so that filters on them skip files.
    table
        The table as already opened, if the caller has it (saves reading its Delta log again).

    Returns
    -------
    deltalake.DeltaTable
        The table as the commit left it.
    """
    table_uri = lake.table_uri(table_name)
    file_schema = schema.remove(schema.get_field_index("session_id"))
    relative_folder = f"session_id={session_id}"
    filesystem, lake_root = lake.arrow_filesystem()
    root = f"{lake_root}/{table_name}"
    folder = f"{root}/{relative_folder}"
    new_dirs = [d for d in (root, folder) if filesystem.get_file_info(d).type == pafs.FileType.NotFound]
    filesystem.create_dir(folder, recursive=True)
    stripped = (batch.drop_columns(["session_id"]) if "session_id" in batch.schema.names else batch
                for batch in batches)
    written: list[str] = []
    options = lake.storage_options or None
    try:
        files = _GroupedFiles(file_schema, filesystem=filesystem, folder=folder, relative_folder=relative_folder,
                              partition={"session_id": session_id}, rows_per_file=rows_per_file, written=written)
        for key, rows in _group_batches(stripped, group_by):
            files.add(key, rows)
        actions = files.finish()

        def commit(existing: DeltaTable | None) -> DeltaTable:
            if existing is None:
                existing = lake.delta_table(table_name)
            if existing is None:
                try:
                    create_table_with_add_actions(table_uri, Schema.from_arrow(schema), actions, mode="error",
                                                  partition_by=["session_id"], description=description,
                                                  storage_options=options)
                    return DeltaTable(table_uri, storage_options=options)
                except DeltaError:  # another writer created it meanwhile: replace our partition in it
                    existing = lake.delta_table(table_name)
                    if existing is None:
                        raise
            existing.create_write_transaction(list[AddAction | RemoveAction](actions), mode="overwrite",
                                              schema=existing.schema(), partition_by=["session_id"],
                                              partition_filters=[("session_id", "=", session_id)])
            existing.update_incremental()  # the transaction does not move the handle to its commit
            return existing

        committed = retry_table_commits(commit, table, what=f"writing table {table_name}")
    except BaseException as exc:
        _remove_quietly(filesystem, written, new_dirs)
        if isinstance(exc, (OSError, DeltaError)):
            raise LakeError(f"writing table {table_name} of {lake.uri} failed: {storage_reason(exc)}") from None
        raise
    return committed


def _remove_quietly(filesystem: pafs.FileSystem, files: list[str], new_dirs: list[str]) -> None:
    """Delete the files of a write that did not commit, and the folders it created (deepest first)."""
    for path in files:
        with contextlib.suppress(OSError):
            filesystem.delete_file(path)
    for folder in reversed(new_dirs):
        with contextlib.suppress(OSError):
            filesystem.delete_dir(folder)
