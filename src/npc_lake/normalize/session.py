"""Normalize one session: conform every table, check it, and digest its rows (spikes streamed)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol

import polars as pl

from npc_lake.errors import SchemaError, SessionError
from npc_lake.normalize.checks import check_intervals, check_links, check_primary_key, check_spike_batch
from npc_lake.normalize.conform import conform, empty_frame
from npc_lake.normalize.hashing import frame_digest, new_digest, update_spike_digest
from npc_lake.schema import SESSION_TABLES, TABLES, SessionBundle
from npc_lake.schema.ephys import UNIT_COLUMNS_IN_SPIKES
from npc_lake.schema.ids import validate_id

SPIKES = TABLES["spike_times"]


class SpikeObserver(Protocol):
    """Sees every checked spike batch of a session once, then returns tables derived from them."""

    def add_batch(self, batch: pl.DataFrame) -> None:
        """Take in one conformed spike batch."""

    def frames(self) -> Mapping[str, pl.DataFrame]:
        """The derived tables, by name (per-session tables of :data:`npc_lake.schema.TABLES`)."""


#: Makes the observer of a session from its conformed tables (everything but spike_times).
ObserverFactory = Callable[[str, Mapping[str, pl.DataFrame]], SpikeObserver]


@dataclass
class NormalizedSession:
    """A session whose rows passed every check, with a digest and row count per table.

    ``tables`` holds a frame (possibly empty) for every per-session table except ``spike_times``,
    whose conformed batches come from :meth:`spike_batches`.
    """

    session_id: str
    source_uri: str
    source_hash: str | None
    tables: dict[str, pl.DataFrame]
    bundle: SessionBundle
    content_hashes: dict[str, str] = field(default_factory=dict)
    row_counts: dict[str, int] = field(default_factory=dict)
    sort_spikes: bool = False

    def spike_batches(self) -> Iterator[pl.DataFrame]:
        """Conformed spike batches, read again from the source (sorted per unit if ``sort_spikes``), each
        spike carrying its unit's ``structure`` and ``default_qc`` (from the session's units table)."""
        units = self.tables["units"]
        attributes = units.select("unit_id", *UNIT_COLUMNS_IN_SPIKES)
        for batch in self.bundle.spike_batches():
            batch = batch.drop(UNIT_COLUMNS_IN_SPIKES, strict=False).join(
                attributes, on="unit_id", how="left", maintain_order="left")
            frame = conform(batch, SPIKES, session_id=self.session_id, sort=False)
            if self.sort_spikes:
                frame = frame.sort("unit_id", "spike_time", maintain_order=True)
            yield frame

    def verified_spike_batches(self) -> Iterator[pl.DataFrame]:
        """Like :meth:`spike_batches`, raising at the end if the spikes differ from the checked first pass.

        The second read of the source (to write) must give the rows that were checked and digested; a file
        changed in between is refused instead of entering the lake unchecked.
        """
        digest = spike_digest(self.session_id)
        for batch in self.spike_batches():
            if batch.height:
                update_spike_digest(digest, batch)
            yield batch
        if digest.hexdigest() != self.content_hashes["spike_times"]:
            raise SessionError(self.session_id, "spike_times changed between the check and the write (was the "
                               "file modified during ingest?)", uri=self.source_uri)

    def frame_of(self, table: str) -> pl.DataFrame:
        """The session's rows of a per-session table other than spike_times."""
        return self.tables[table]


def spike_digest(session_id: str) -> hashlib.blake2b:
    """A fresh digest for the spikes of ``session_id``."""
    digest = new_digest()
    digest.update(session_id.encode())
    return digest


def _scan_spikes(session: NormalizedSession, observer: SpikeObserver | None = None) -> dict[str, int]:
    """First pass over the spikes: check them, digest them, count them per unit, show them to ``observer``."""
    units = session.tables["units"]
    known = set(units["unit_id"].to_list())
    seen: set[str] = set()
    counts: dict[str, int] = {}
    digest = spike_digest(session.session_id)
    total = 0
    for batch in session.spike_batches():
        counts.update(check_spike_batch(batch, known_units=known, seen_units=seen, session_id=session.session_id,
                                        uri=session.source_uri))
        if batch.height:
            update_spike_digest(digest, batch)
            total += batch.height
            if observer is not None:
                observer.add_batch(batch)
    session.content_hashes["spike_times"] = digest.hexdigest()
    session.row_counts["spike_times"] = total
    return counts


def _fill_num_spikes(units: pl.DataFrame, counts: dict[str, int], *, session_id: str, uri: str) -> pl.DataFrame:
    """Set units.num_spikes from the spikes, refusing a contradiction with the source's own count."""
    actual = pl.Series("num_spikes", [counts.get(u, 0) for u in units["unit_id"].to_list()], dtype=pl.Int64)
    declared = units["num_spikes"]
    clash = declared.is_not_null() & (declared != actual)
    if clash.any():
        unit = units.filter(clash)["unit_id"][0]
        raise SessionError(session_id, f"units: num_spikes of {unit} disagrees with its spike_times", uri=uri)
    return units.with_columns(actual)


def normalize_session(bundle: SessionBundle, *, sort_spikes: bool = False,
                      derive: ObserverFactory | None = None) -> NormalizedSession:
    """Conform and check every table of ``bundle``; nothing is written.

    Parameters
    ----------
    bundle
        What a source read.
    sort_spikes
        Sort each unit's spike times instead of refusing a unit whose times go backwards (some published
        files store spikes trial by trial, not in time order).
    derive
        Makes an observer that sees the checked spikes (in the pass that checks them, so the source is not
        read again) and derives tables from them, e.g. :class:`npc_lake.analysis.products.SessionProducts`.
        Its tables replace those of the bundle.

    Returns
    -------
    NormalizedSession

    Raises
    ------
    SchemaError, SessionError, InvalidIdError
        The session cannot go into the lake as it is; the message names the table and the reason.
    """
    session_id = validate_id(bundle.session_id)
    uri = bundle.source_uri
    try:
        return _normalize(bundle, session_id=session_id, uri=uri, sort_spikes=sort_spikes, derive=derive)
    except SchemaError as exc:
        raise (exc if exc.uri else exc.with_uri(uri)) from None


def _normalize(bundle: SessionBundle, *, session_id: str, uri: str, sort_spikes: bool,
               derive: ObserverFactory | None) -> NormalizedSession:
    tables: dict[str, pl.DataFrame] = {}
    for name in SESSION_TABLES:
        if name == "spike_times":
            continue
        table = TABLES[name]
        frame = bundle.table(name)
        tables[name] = empty_frame(table) if frame is None else conform(frame, table, session_id=session_id)
        check_primary_key(tables[name], table, session_id=session_id, uri=uri)
        check_intervals(tables[name], table, session_id=session_id, uri=uri)
    check_links(tables, session_id=session_id, uri=uri)
    if tables["sessions"].height != 1:
        raise SessionError(session_id, f"sessions: expected one row, got {tables['sessions'].height}", uri=uri)

    session = NormalizedSession(session_id=session_id, source_uri=uri, source_hash=bundle.source_hash,
                                tables=tables, bundle=bundle, sort_spikes=sort_spikes)
    observer = derive(session_id, dict(tables)) if derive is not None else None
    counts = _scan_spikes(session, observer)
    tables["units"] = _fill_num_spikes(tables["units"], counts, session_id=session_id, uri=uri)
    for name, frame in (observer.frames() if observer is not None else {}).items():
        table = TABLES[name]
        tables[name] = conform(frame, table, session_id=session_id)
        check_primary_key(tables[name], table, session_id=session_id, uri=uri)
    for name, frame in tables.items():
        session.content_hashes[name] = frame_digest(frame)
        session.row_counts[name] = frame.height
    return session
