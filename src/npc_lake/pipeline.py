"""One session from source to lake: read → normalize → write. Idempotent.

``ingest`` is the same function whatever runs it (the CLI, a process pool, a Dask worker later): it
reads one source, refuses it with a clear error before anything is written if it is bad, and writes
only what changed.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from npc_lake._version import __version__
from npc_lake.errors import SessionError, SourceError
from npc_lake.lake import Lake, WriteResult, ingest_of_source, last_ingest, write_session
from npc_lake.normalize import NormalizedSession, normalize_session
from npc_lake.normalize.session import SpikeObserver
from npc_lake.schema import SCHEMA_VERSION, SessionBundle
from npc_lake.sources.remote import is_remote, remote_digest

_CHUNK = 8 * 1024 * 1024


def file_digest(path: str | os.PathLike[str]) -> str:
    """blake2b digest of a file's bytes (read in 8 MiB chunks)."""
    digest = hashlib.blake2b(digest_size=20)
    try:
        with open(path, "rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
    except OSError as exc:
        raise SourceError(os.fspath(path), f"cannot read: {exc.strerror or exc}") from exc
    return digest.hexdigest()


@dataclass
class IngestOutcome:
    """What ingesting one source did."""

    source_uri: str
    session_id: str
    status: str  # "written" or "unchanged"
    write: WriteResult | None = None
    rows: dict[str, int] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line for the user: the session, and rows written or why nothing was."""
        if self.status == "unchanged":
            return f"{self.session_id}: unchanged, nothing written ({self.source_uri})"
        assert self.write is not None
        rows = ", ".join(f"{name} {self.rows.get(name, 0):,}" for name in self.write.written)
        unchanged = f"; {len(self.write.unchanged)} tables unchanged" if self.write.unchanged else ""
        left_out = "".join(f"\n  skipped {item}" for item in self.skipped)
        return f"{self.session_id}: wrote {rows}{unchanged} ({self.source_uri}){left_out}"


#: Source formats ``ingest`` reads; ``auto`` picks by what the path is (a folder is a raw DR session).
SOURCE_FORMATS = ("auto", "nwb", "dr-raw")


def folder_digest(path: str | os.PathLike[str]) -> str:
    """blake2b digest of a folder's file listing: every file's relative path, size and modification time.

    Raw session folders hold gigabytes; their listing changes whenever a file is added, replaced or
    rewritten, which is what "the same source" needs to mean for skipping an unchanged ingest.
    """
    root = Path(path)
    digest = hashlib.blake2b(digest_size=20)
    for item in sorted(p for p in root.rglob("*") if p.is_file()):
        stat = item.stat()
        digest.update(f"{item.relative_to(root).as_posix()}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def read_source(uri: str, *, session_id: str | None = None, source_format: str = "auto") -> SessionBundle:
    """Read one source into a bundle: an NWB file or NWB-Zarr store, or a raw DR session folder."""
    path = Path(uri)
    if source_format not in SOURCE_FORMATS:
        raise SourceError(uri, f"unknown source format {source_format!r} (one of {', '.join(SOURCE_FORMATS)})")
    from npc_lake.sources.nwb import is_zarr, read_nwb

    if is_remote(uri):
        if source_format == "dr-raw":
            raise SourceError(uri, "raw DR session folders are read from local disk; copy the folder first")
        return read_nwb(uri, session_id=session_id)
    zarr_store = path.is_dir() and is_zarr(uri)
    if source_format == "dr-raw" or (source_format == "auto" and path.is_dir() and not zarr_store):
        from npc_lake.sources.dr_raw import read_dr_session

        return read_dr_session(path, session_id=session_id)
    if path.is_dir() and not zarr_store:
        raise SourceError(uri, "a folder that is not a Zarr store is not NWB (use --source dr-raw for a raw DR "
                               "session folder)")

    return read_nwb(path, session_id=session_id)


def _with_provenance(bundle: SessionBundle) -> SessionBundle:
    sessions = bundle.table("sessions")
    if sessions is not None:
        bundle.tables["sessions"] = sessions.with_columns(
            pl.lit(bundle.source_uri, dtype=pl.String).alias("source_uri"),
            pl.lit(bundle.source_hash, dtype=pl.String).alias("source_hash"),
        )
    return bundle


def session_products(session_id: str, tables: Mapping[str, pl.DataFrame]) -> SpikeObserver:
    """The analysis tables of a session (:mod:`npc_lake.analysis.products`), derived as its spikes are checked."""
    from npc_lake.analysis.products import SessionProducts

    return SessionProducts(session_id, units=tables["units"], electrodes=tables["electrodes"],
                           trials=tables["trials"], intervals=tables["intervals"])


def _check_not_another_recording(lake: Lake, session: NormalizedSession) -> None:
    """Refuse a source that claims a session already ingested from another file with another identifier."""
    previous = last_ingest(session.session_id, lake=lake)
    if previous is None or previous.source_uri in (None, session.source_uri):
        return
    stored = (lake.scan("sessions").filter(pl.col("session_id") == session.session_id)
              .select("identifier").collect())
    new = session.frame_of("sessions")["identifier"][0]
    old = stored["identifier"][0] if stored.height else None
    if old is not None and new is not None and old != new:
        raise SessionError(session.session_id, f"the lake holds this session from {previous.source_uri} "
                           f"(identifier {old!r}), and this file has identifier {new!r}; pass --replace "
                           "(replace=True) if it should replace that recording", uri=session.source_uri)


def ingest(source: str | os.PathLike[str], *, lake: Lake | str | None = None, session_id: str | None = None,
           force: bool = False, sort_spikes: bool = False, replace: bool = False,
           source_format: str = "auto") -> IngestOutcome:
    """Ingest one source into the lake.

    Parameters
    ----------
    source
        An NWB file or ``.nwb.zarr`` store (local, or ``s3://`` read in ranges) or a raw DR session folder.
    lake
        The lake (handle, URI or ``None`` for ``$NPC_LAKE_URI`` / ``./lake``).
    session_id
        Override the session id the source would get.
    force
        Read and compare the source even if a source with the same bytes was ingested already.
    sort_spikes
        Sort spike times per unit instead of refusing a source whose spike times are out of order.
    replace
        Let this source replace a session that was ingested from another file with another NWB
        identifier (without it, such a clash of session ids is refused).
    source_format
        ``"auto"`` (a Zarr store or a file is NWB, another folder a raw DR session), ``"nwb"`` or ``"dr-raw"``.

    Returns
    -------
    IngestOutcome

    Raises
    ------
    SourceError, SessionError, SchemaError
        The source is refused; the lake is unchanged.
    """
    lake = Lake.open(lake)
    uri = os.fspath(source)
    if is_remote(uri):
        digest = remote_digest(uri)  # the object's size and time: its bytes are not downloaded
    else:
        if not Path(uri).exists():
            raise SourceError(uri, "no such file or folder")
        uri = os.path.abspath(uri)  # absolute, but through the links the user named
        digest = file_digest(uri) if Path(uri).is_file() else folder_digest(uri)
    if digest and not force and session_id is None:
        seen = ingest_of_source(digest, lake=lake)
        if (seen is not None and seen.npc_lake_version == __version__ and seen.schema_version == SCHEMA_VERSION):
            latest = last_ingest(seen.session_id, lake=lake)
            if latest is not None and latest.ingest_id == seen.ingest_id:
                return IngestOutcome(source_uri=uri, session_id=seen.session_id, status="unchanged",
                                     rows=dict(seen.row_counts))
    bundle = read_source(uri, session_id=session_id, source_format=source_format)
    bundle.source_hash = digest
    normalized = normalize_session(_with_provenance(bundle), sort_spikes=sort_spikes, derive=session_products)
    if not replace:
        _check_not_another_recording(lake, normalized)
    result = write_session(normalized, lake=lake)
    return IngestOutcome(source_uri=uri, session_id=normalized.session_id,
                         status="written" if result.changed else "unchanged", write=result,
                         rows=dict(normalized.row_counts), skipped=list(bundle.skipped))
