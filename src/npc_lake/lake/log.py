"""Reading the ingest log: what was last written for a session, and from which source."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import polars as pl

from npc_lake.lake.store import Lake


@dataclass(frozen=True)
class IngestRecord:
    """One row of ``ingest_log``, with the per-table lists turned into dicts."""

    ingest_id: str
    session_id: str
    source_uri: str | None
    source_hash: str | None
    npc_lake_version: str
    schema_version: int
    ingested_at: datetime
    table_versions: dict[str, int]
    content_hashes: dict[str, str]
    row_counts: dict[str, int]
    skipped: tuple[str, ...] = ()
    file_digests: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_row(cls, row: dict[str, object]) -> IngestRecord:
        """Build a record from a row of the ingest_log table."""
        names = list(row["table_names"] or [])  # type: ignore[call-overload]
        return cls(
            ingest_id=str(row["ingest_id"]),
            session_id=str(row["session_id"]),
            source_uri=row["source_uri"],  # type: ignore[arg-type]
            source_hash=row["source_hash"],  # type: ignore[arg-type]
            npc_lake_version=str(row["npc_lake_version"]),
            schema_version=int(row["schema_version"]),  # type: ignore[call-overload]
            ingested_at=row["ingested_at"],  # type: ignore[arg-type]
            table_versions=dict(zip(names, row["table_versions"] or [], strict=True)),  # type: ignore[call-overload]
            content_hashes=dict(zip(names, row["content_hashes"] or [], strict=True)),  # type: ignore[call-overload]
            row_counts=dict(zip(names, row["row_counts"] or [], strict=True)),  # type: ignore[call-overload]
            skipped=tuple(row.get("skipped") or ()),  # type: ignore[arg-type]
            file_digests=dict(zip(names, row.get("file_digests") or [], strict=True)),  # type: ignore[call-overload]
        )


def read_log(lake: Lake | str | None = None) -> pl.DataFrame:
    """The whole ingest log, oldest first (empty frame if nothing was ingested)."""
    lake = Lake.open(lake)
    return lake.scan("ingest_log").sort("ingested_at").collect()


def _latest(frame: pl.DataFrame) -> IngestRecord | None:
    if frame.height == 0:
        return None
    return IngestRecord.from_row(frame.sort("ingested_at").row(-1, named=True))


def last_ingest(session_id: str, *, lake: Lake) -> IngestRecord | None:
    """The latest ingest that wrote ``session_id``, or ``None``."""
    return _latest(lake.scan("ingest_log").filter(pl.col("session_id") == session_id).collect())


def ingest_of_source(source_hash: str, *, lake: Lake) -> IngestRecord | None:
    """The latest ingest of a source with digest ``source_hash``, or ``None``."""
    return _latest(lake.scan("ingest_log").filter(pl.col("source_hash") == source_hash).collect())


def snapshot_versions(lake: Lake | str | None = None, *, as_of: int | None = None) -> tuple[int | None, dict[str, int]]:
    """The Delta version of every table in the lake snapshot at ingest-log version ``as_of`` (latest if
    ``None``): the versions the newest log row at that point recorded. Sessions are written one at a time
    (see :meth:`Lake.write_lock`), so those versions hold every logged session whole and nothing after.

    Returns
    -------
    (log_version, {table: version})
        ``(None, {})`` for a lake with no ingest yet.
    """
    handle = Lake.open(lake)
    log_version = handle.version("ingest_log") if as_of is None else as_of
    if log_version is None:
        return None, {}
    newest = _latest(handle.scan("ingest_log", version=log_version).collect())
    return log_version, dict(newest.table_versions) if newest is not None else {}
