"""Reading one session back out of the lake as a :class:`SessionBundle` (for NWB export)."""

from __future__ import annotations

from collections.abc import Iterator

import polars as pl

from npc_lake.errors import LakeError
from npc_lake.lake.snapshots import AsOf, resolve_log_version
from npc_lake.lake.spikes import stream_session_spikes
from npc_lake.lake.store import Lake
from npc_lake.schema import SESSION_TABLES, SessionBundle
from npc_lake.schema.ids import validate_id


def _session_rows(lake: Lake, table: str, session_id: str, version: int | None = None) -> pl.DataFrame:
    return lake.scan(table, version=version).filter(pl.col("session_id") == session_id).collect()


def session_table_versions(session_id: str, *, lake: Lake, as_of: AsOf) -> dict[str, int]:
    """The table versions holding ``session_id`` as of ``as_of`` (an ingest-log version, tag or time).

    An ingest-log version names a consistent state of every session: each session's tables as its latest
    ingest up to that log commit wrote them.

    Raises
    ------
    LakeError
        The ingest log has no version ``as_of``, or the session was not in the lake then.
    """
    as_of = resolve_log_version(lake, as_of)
    log = lake.scan("ingest_log", version=as_of).filter(pl.col("session_id") == session_id).collect()
    if log.height == 0:
        raise LakeError(f"session {session_id!r} was not in the lake as of ingest-log version {as_of}")
    last = log.sort("ingested_at").row(-1, named=True)
    return dict(zip(last["table_names"], last["table_versions"], strict=True))


def session_ids(lake: Lake | str | None = None) -> list[str]:
    """Ids of the sessions in the lake, sorted."""
    handle = Lake.open(lake)
    return sorted(handle.scan("sessions").select("session_id").collect()["session_id"].to_list())


def read_session(session_id: str, *, lake: Lake | str | None = None, as_of: AsOf | None = None) -> SessionBundle:
    """The rows of one session, as a bundle whose spikes stream from the lake unit batch by unit batch.

    Parameters
    ----------
    session_id
        A session in the lake.
    lake
        The lake (handle, URI or ``None`` for the default).
    as_of
        Ingest-log version to read the session as of (see :func:`session_table_versions`); latest if ``None``.

    Returns
    -------
    SessionBundle
        Frames of every per-session table (extra columns included), units in their NWB order; spike
        batches hold complete units, in the units table's order (see :mod:`npc_lake.lake.spikes`).

    Raises
    ------
    LakeError
        If the lake has no such session.
    """
    handle = Lake.open(lake)
    validate_id(session_id)
    versions = {} if as_of is None else session_table_versions(session_id, lake=handle, as_of=as_of)
    sessions = _session_rows(handle, "sessions", session_id, versions.get("sessions"))
    if sessions.height == 0:
        raise LakeError(f"session {session_id!r} is not in the lake at {handle.uri}")
    tables = {"sessions": sessions}
    for name in SESSION_TABLES:
        if name not in ("sessions", "spike_times"):
            tables[name] = _session_rows(handle, name, session_id, versions.get(name))
    tables["units"] = tables["units"].sort("nwb_unit_id", "unit_id", nulls_last=True)
    unit_ids = tables["units"]["unit_id"].to_list()
    counts = tables["units"]["num_spikes"].fill_null(1).to_list()  # unknown counts: let the stream look

    def spike_batches() -> Iterator[pl.DataFrame]:
        return stream_session_spikes(handle, session_id, unit_ids=unit_ids, counts=counts,
                                     version=versions.get("spike_times"))

    source = sessions["source_uri"][0] or f"{handle.uri}#{session_id}"
    return SessionBundle(session_id=session_id, source_uri=source, tables=tables, spike_batches=spike_batches,
                         source_hash=sessions["source_hash"][0])
