"""Write one normalized session into the lake.

A session write replaces exactly that session's rows in each table (a Delta overwrite with the
predicate ``session_id = '<id>'``). Tables whose content digest equals the one recorded by the
session's last ingest are not touched; when nothing changed, nothing is written at all (no commit,
no log row). After the tables, one row is appended to ``ingest_log`` with the version of every table.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import polars as pl
import pyarrow as pa
from deltalake import DeltaTable, write_deltalake
from deltalake.exceptions import DeltaError

from npc_lake._version import __version__
from npc_lake.errors import LakeError, SchemaError, SessionError, storage_reason
from npc_lake.lake.log import IngestRecord, last_ingest
from npc_lake.lake.store import Lake, retry_table_commits
from npc_lake.lake.stream import write_partition_stream
from npc_lake.normalize import NormalizedSession, conform, empty_frame
from npc_lake.schema import SCHEMA_VERSION, SESSION_TABLES, TABLES, Table
from npc_lake.schema.ephys import UNIT_COLUMNS_IN_SPIKES


@dataclass
class WriteResult:
    """What a session write did.

    ``written`` lists the tables that received a commit, ``unchanged`` those skipped because their
    digest matched; ``rows`` is the session's row count per table.
    """

    session_id: str
    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)
    versions: dict[str, int] = field(default_factory=dict)
    ingest_id: str | None = None

    @property
    def changed(self) -> bool:
        """Whether anything was written."""
        return bool(self.written)


def _stored_schema(delta: DeltaTable | None) -> pl.Schema | None:
    if delta is None:
        return None
    empty = pl.from_arrow(pa.schema(delta.schema().to_arrow()).empty_table())
    assert isinstance(empty, pl.DataFrame)
    return empty.schema


def _widens(source: pl.DataType, target: pl.DataType) -> bool:
    """Whether every value of ``source`` fits ``target`` unchanged (a stored column may only widen)."""
    if source == target or source == pl.Null:
        return True
    if source.is_integer() and target == pl.Float64:
        return True
    if source.is_integer() and target.is_integer():
        source_signed, target_signed = source.is_signed_integer(), target.is_signed_integer()
        bits: dict[type[pl.DataType], int] = {pl.Int8: 8, pl.Int16: 16, pl.Int32: 32, pl.Int64: 64, pl.UInt8: 8,
                                              pl.UInt16: 16, pl.UInt32: 32, pl.UInt64: 64}
        source_bits, target_bits = bits[type(source)], bits[type(target)]
        if source_signed == target_signed:
            return target_bits >= source_bits
        return target_signed and target_bits > source_bits
    return source == pl.Float32 and target == pl.Float64


def _align(frame: pl.DataFrame, stored: pl.Schema | None, table: Table, session: NormalizedSession) -> pl.DataFrame:
    """Cast columns the stored table already has to its dtypes, refusing any cast that could change a value.

    New extra columns stay as they are (the table's schema grows).
    """
    if stored is None:
        return frame
    casts = []
    for name, dtype in frame.schema.items():
        have = stored.get(name)
        if have is None or have == dtype:
            continue
        if not _widens(dtype, have):
            raise SchemaError(table.name, f"column {name!r} is {dtype} in this session but {have} in the lake",
                              session_id=session.session_id, uri=session.source_uri)
        casts.append(frame[name].cast(have))
    return frame.with_columns(casts) if casts else frame


def _write(lake: Lake, table: Table, data: pa.Table, *, session_id: str | None,
           delta: DeltaTable | None) -> DeltaTable:
    """Write ``data`` into ``table``: replace the session's rows (per-session tables) or append (the logs).

    ``delta`` is the table as already opened (``None`` if it does not exist yet); the write goes through
    it, so the Delta log is not read again, and it is returned as the write left it.

    A missing per-session table is first created empty (creation is atomic, so concurrent first writers
    cannot both append); a write that loses a race to a concurrent commit catches up and is retried.
    """
    options = lake.storage_options or None
    uri = lake.table_uri(table.name)
    partition_by = list(table.partition_by) or None
    def commit(current: DeltaTable | None) -> DeltaTable:
        if current is None and table.per_session:
            DeltaTable.create(uri, data.schema, mode="ignore", partition_by=partition_by,
                              description=table.description, storage_options=options)
            current = lake.delta_table(table.name)
        if current is None:  # the first row of a lake-wide table creates it
            write_deltalake(uri, data, mode="append", partition_by=partition_by, storage_options=options,
                            description=table.description)
            created = lake.delta_table(table.name)
            assert created is not None
            return created
        if table.per_session:
            write_deltalake(current, data, mode="overwrite", predicate=f"session_id = '{session_id}'",
                            schema_mode="merge", partition_by=partition_by)
        else:
            write_deltalake(current, data, mode="append", schema_mode="merge", partition_by=partition_by)
        return current

    try:
        return retry_table_commits(commit, delta, what=f"writing table {table.name}")
    except (OSError, DeltaError) as exc:
        raise LakeError(f"writing table {table.name} of {lake.uri} failed: {storage_reason(exc)}") from None


@dataclass(frozen=True)
class _Stored:
    """What the Delta log says of one session's partition of a table, without opening a data file."""

    rows: int | None  # None when a file lacks statistics
    file_digest: str  # of the partition's file paths: any rewrite changes it

    @classmethod
    def of(cls, table: DeltaTable | None, session_id: str) -> _Stored | None:
        if table is None:
            return None
        actions = pl.DataFrame(pa.table(table.get_add_actions(flatten=True)))
        if actions.is_empty() or "partition.session_id" not in actions.columns:
            return cls(rows=0 if actions.is_empty() else None, file_digest=_digest([]))
        mine = actions.filter(pl.col("partition.session_id") == session_id)
        rows = None if mine["num_records"].null_count() else int(mine["num_records"].sum())
        return cls(rows=rows, file_digest=_digest(mine["path"].to_list()))

    def matches(self, previous: IngestRecord, name: str) -> bool:
        """Whether the partition is the one ``previous`` wrote (not cut short or rewritten since).

        Logs written before file digests existed fall back to comparing row counts.
        """
        logged = previous.file_digests.get(name)
        if logged is not None:
            return logged == self.file_digest
        return self.rows is None or self.rows == previous.row_counts.get(name, 0)


def _digest(paths: list[str]) -> str:
    return hashlib.blake2b("\n".join(sorted(paths)).encode(), digest_size=16).hexdigest()


#: The file digest of a session with no rows in a table.
EMPTY_PARTITION_DIGEST = _digest([])


def partition_file_digests(table: DeltaTable) -> dict[str, str]:
    """Digest of each session partition's data file paths, from the Delta log (as the ingest log records
    them in ``file_digests``)."""
    actions = pl.DataFrame(pa.table(table.get_add_actions(flatten=True)))
    if actions.is_empty() or "partition.session_id" not in actions.columns:
        return {}
    return {str(session_id): _digest(paths) for session_id, paths in
            actions.group_by("partition.session_id").agg(pl.col("path")).iter_rows()}


def _spike_stream(session: NormalizedSession, stored: pl.Schema | None) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
    table = TABLES["spike_times"]
    schema = _align(empty_frame(table), stored, table, session).to_arrow().schema

    def batches() -> Iterator[pa.RecordBatch]:
        for frame in session.verified_spike_batches():
            if frame.height:
                yield from _align(frame, stored, table, session).to_arrow().cast(schema).to_batches()

    return schema, batches()


def _check_unit_ids_are_new(lake: Lake, session: NormalizedSession) -> None:
    """unit_id is unique across the lake: refuse unit ids that another session already uses."""
    unit_ids = session.frame_of("units")["unit_id"]
    if unit_ids.is_empty() or lake.delta_table("units") is None:
        return
    taken = (lake.scan("units").filter(pl.col("session_id") != session.session_id,
                                       pl.col("unit_id").is_in(unit_ids.implode()))
             .select("unit_id", "session_id").head(3).collect())
    if taken.height:
        pairs = ", ".join(f"{u} (in {s})" for u, s in taken.iter_rows())
        raise SessionError(session.session_id, f"units: unit_id already used by another session: {pairs}",
                           uri=session.source_uri)


def write_session(session: NormalizedSession, *, lake: Lake | str | None = None) -> WriteResult:
    """Write ``session`` into ``lake``, replacing that session's rows where its content changed.

    Parameters
    ----------
    session
        A session that passed :func:`npc_lake.normalize.normalize_session`.
    lake
        The lake (handle, URI or ``None`` for the default).

    Returns
    -------
    WriteResult
    """
    lake = Lake.open(lake)
    with lake.write_lock():  # one session's commits at a time, so the log's order is the commits' order
        return _write_session(session, lake)


def _write_session(session: NormalizedSession, lake: Lake) -> WriteResult:
    _check_unit_ids_are_new(lake, session)
    previous = last_ingest(session.session_id, lake=lake)
    before = previous.content_hashes if previous else {}
    result = WriteResult(session_id=session.session_id, rows=dict(session.row_counts))
    plan: list[tuple[Table, pa.Table | tuple[pa.Schema, Iterator[pa.RecordBatch]]]] = []
    # align every changed table before writing any: a conflict must stop all writes. The spikes go
    # first: re-reading them from the source is what is most likely to fail.
    opened = {name: lake.delta_table(name) for name in SESSION_TABLES}  # each Delta log read once
    for name in sorted(SESSION_TABLES, key=lambda n: n != "spike_times"):
        table = TABLES[name]
        exists = opened[name] is not None
        had_no_rows = previous is None or previous.row_counts.get(name, 0) == 0
        stored = _Stored.of(opened[name], session.session_id)
        intact = previous is None or stored is None or stored.matches(previous, name)
        if exists and intact and (before.get(name) == session.content_hashes[name]
                                  or (session.row_counts[name] == 0 and had_no_rows)):
            result.unchanged.append(name)
            continue
        schema = _stored_schema(opened[name])
        if name == "spike_times":
            plan.append((table, _spike_stream(session, schema)))
        else:
            plan.append((table, _align(session.frame_of(name), schema, table, session).to_arrow()))
    for table, data in plan:
        if isinstance(data, tuple):  # the spikes: streamed to Parquet, committed in one transaction
            schema, batches = data
            opened[table.name] = write_partition_stream(
                lake, table_name=table.name, session_id=session.session_id, batches=batches, schema=schema,
                description=table.description, group_by=UNIT_COLUMNS_IN_SPIKES, table=opened[table.name])
        else:
            opened[table.name] = _write(lake, table, data, session_id=session.session_id, delta=opened[table.name])
        result.written.append(table.name)
    if not result.written:
        return result
    file_digests = {}
    for name, delta in opened.items():
        assert delta is not None
        result.versions[name] = delta.version()
        state = _Stored.of(delta, session.session_id)
        assert state is not None
        file_digests[name] = state.file_digest
    result.ingest_id = str(uuid.uuid4())
    names = list(SESSION_TABLES)
    log_row = pl.DataFrame({
        "ingest_id": [result.ingest_id],
        "session_id": [session.session_id],
        "source_uri": [session.source_uri],
        "source_hash": [session.source_hash],
        "npc_lake_version": [__version__],
        "schema_version": [SCHEMA_VERSION],
        "ingested_at": [datetime.now(UTC)],
        "action": ["written"],
        "table_names": [names],
        "table_versions": [[result.versions[n] for n in names]],
        "content_hashes": [[session.content_hashes[n] for n in names]],
        "row_counts": [[session.row_counts[n] for n in names]],
        "skipped": [list(session.bundle.skipped)],
        "file_digests": [[file_digests[n] for n in names]],
    })
    log_table = TABLES["ingest_log"]
    _write(lake, log_table, conform(log_row, log_table).to_arrow(), session_id=None,
           delta=lake.delta_table("ingest_log"))
    return result


def append_rows(lake: Lake, name: str, frame: pl.DataFrame) -> int:
    """Append rows to a lake-wide table (``tags``); returns the table's new Delta version."""
    table = TABLES[name]
    if table.per_session:
        raise ValueError(f"{name} holds sessions' rows: write sessions with write_session")
    return _write(lake, table, conform(frame, table).to_arrow(), session_id=None,
                  delta=lake.delta_table(name)).version()
