"""Session metadata and subject: the ``sessions`` and ``subjects`` rows of one session."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import polars as pl
from hdmf.common import DynamicTable
from pynwb import NWBFile
from pynwb.file import Subject

from npc_lake.errors import SchemaError, SessionError
from npc_lake.normalize.conform import conform
from npc_lake.schema import SessionBundle
from npc_lake.schema.session import SESSIONS, SUBJECTS

#: NWBFile arguments filled from a ``sessions`` column of the same name (free text).
_TEXT_FIELDS = (
    "experiment_description", "institution", "lab", "notes", "protocol", "pharmacology", "surgery", "virus",
    "stimulus_notes", "data_collection",
)
#: NWBFile arguments filled from a ``sessions`` list column of the same name.
_LIST_FIELDS = ("experimenter", "keywords", "related_publications")


def _session_row(bundle: SessionBundle) -> dict[str, Any]:
    """The session's ``sessions`` row as a dict (raises when there is none)."""
    frame = bundle.table("sessions")
    if frame is None or frame.height == 0:
        raise SessionError(bundle.session_id, "no sessions row: cannot write an NWB file without a start time")
    if "session_id" in frame.columns:
        frame = frame.filter(pl.col("session_id") == bundle.session_id)
        if frame.height == 0:
            raise SessionError(bundle.session_id, "the sessions table has no row for this session")
    return frame.row(0, named=True)


def _local_time(value: datetime | None, offset_minutes: int | None) -> datetime | None:
    """A UTC instant shown in the session's own time zone (UTC when the offset is unknown)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    zone = timezone(timedelta(minutes=int(offset_minutes))) if offset_minutes is not None else UTC
    return value.astimezone(zone)


def add_metadata(bundle: SessionBundle) -> NWBFile:
    """Create the NWBFile that carries the session's metadata (its ``sessions`` row).

    Parameters
    ----------
    bundle
        The session; only ``bundle.tables["sessions"]`` is read.

    Returns
    -------
    pynwb.NWBFile
        A file with no data yet. ``session_start_time`` and ``timestamps_reference_time`` are shown in the
        session's local zone (``utc_offset_minutes``), or UTC when the offset is unknown.

    Raises
    ------
    SessionError
        If the session has no ``sessions`` row or no start time.
    """
    row = _session_row(bundle)
    offset = row.get("utc_offset_minutes")
    start = _local_time(row.get("session_start_time"), offset)
    if start is None:
        raise SessionError(bundle.session_id, "sessions.session_start_time is null")
    reference = _local_time(row.get("timestamps_reference_time"), offset) or start
    kwargs: dict[str, Any] = {
        # NWB requires the field but not a value: "" is what sources without one store (read back as null)
        "session_description": row.get("session_description") or "",
        "identifier": row.get("identifier") or bundle.session_id,
        "session_start_time": start,
        "timestamps_reference_time": reference,
        "session_id": bundle.session_id,
    }
    for name in _TEXT_FIELDS:
        if row.get(name):
            kwargs[name] = row[name]
    for name in _LIST_FIELDS:
        values = [v for v in (row.get(name) or []) if v is not None]
        if values:
            kwargs[name] = values
    return NWBFile(**kwargs)


#: ``sessions`` columns with no place in the NWB core schema, kept in a one-row scratch table of this name.
SESSION_EXTRAS_TABLE = "npc_lake_session"
SESSION_EXTRAS = ("rig", "task_version")


def add_session_extras(nwbfile: NWBFile, bundle: SessionBundle) -> None:
    """Keep the session's ``rig`` and ``task_version`` in ``scratch/npc_lake_session`` (when known).

    NWB has no field for them; a reader that knows the table (npc_lake's NWB source does) restores them.
    """
    row = _session_row(bundle)
    known = {name: str(row[name]) for name in SESSION_EXTRAS if row.get(name) is not None}
    if not known:
        return
    table = DynamicTable(name=SESSION_EXTRAS_TABLE,
                         description="Session fields of the npc_lake sessions table that NWB has no field for.")
    for name in known:
        description = next(c.description for c in SESSIONS.columns if c.name == name)
        table.add_column(name=name, description=description)
    table.add_row(**known)
    nwbfile.add_scratch(table)


def _subject_row(bundle: SessionBundle) -> dict[str, Any]:
    """The session's subject as a dict: its ``subjects`` row, else just ``sessions.subject_id`` (or empty)."""
    frame = bundle.table("subjects")
    sessions = bundle.table("sessions")
    subject_id = None
    if sessions is not None and sessions.height and "subject_id" in sessions.columns:
        subject_id = sessions["subject_id"][0]
    row: dict[str, Any] = {}
    if frame is not None and frame.height:
        if subject_id is not None and frame.filter(pl.col("subject_id") == subject_id).height:
            frame = frame.filter(pl.col("subject_id") == subject_id)
        row = frame.row(0, named=True)
    if not row.get("subject_id") and subject_id is not None:
        row["subject_id"] = subject_id
    return row


def with_subject(bundle: SessionBundle, fields: Mapping[str, str]) -> SessionBundle:
    """A copy of ``bundle`` whose subject has ``fields`` filled in or replaced; the lake is not touched.

    Files from other labs often lack what DANDI requires of a subject (species, sex, age or date of birth).
    Whoever exports such a session knows them and gives them here; the session's other tables are shared,
    not copied.

    Parameters
    ----------
    bundle
        The session as read from the lake.
    fields
        Column name → value, for columns of the ``subjects`` table; ``date_of_birth`` is an ISO 8601
        date or date-time (UTC when it has no offset).

    Returns
    -------
    SessionBundle
        The same session with a one-row ``subjects`` table.

    Raises
    ------
    SchemaError
        A name that is not a ``subjects`` column, or a value that does not fit it.
    SessionError
        Neither the session nor ``fields`` gives a ``subject_id``.
    """
    known = [c.name for c in SUBJECTS.columns if c.name != "session_id"]
    unknown = sorted(set(fields) - set(known))
    if unknown:
        raise SchemaError("subjects", f"no column {', '.join(map(repr, unknown))}; "
                          f"subject fields are {', '.join(known)}", session_id=bundle.session_id)
    row = {**_subject_row(bundle), **fields}
    if not row.get("subject_id"):
        raise SessionError(bundle.session_id, "the session names no subject: give subject_id too")
    dob = row.get("date_of_birth")
    if isinstance(dob, str):
        try:
            parsed = datetime.fromisoformat(dob)
        except ValueError as exc:
            raise SchemaError("subjects", f"date_of_birth {dob!r} is not an ISO 8601 date: {exc}",
                              session_id=bundle.session_id) from None
        row["date_of_birth"] = parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
    frame = pl.DataFrame([{k: v for k, v in row.items() if k in known}], schema_overrides={
        c.name: c.polars_dtype for c in SUBJECTS.columns if c.name in row})
    subjects = conform(frame, SUBJECTS, session_id=bundle.session_id)
    return replace(bundle, tables={**bundle.tables, "subjects": subjects})


def add_subject(nwbfile: NWBFile, bundle: SessionBundle) -> None:
    """Set ``nwbfile.subject`` from the session's ``subjects`` row.

    When the session has no ``subjects`` row but ``sessions.subject_id`` is known, a subject with only
    its id is written. Null fields are left unset.

    Parameters
    ----------
    nwbfile
        The file being built.
    bundle
        The session; ``subjects`` (and ``sessions.subject_id`` as a fallback) are read.
    """
    row = _subject_row(bundle)
    subject_id = row.get("subject_id")
    if subject_id is None:
        return
    kwargs: dict[str, Any] = {"subject_id": str(subject_id)}
    for name in ("species", "sex", "genotype", "strain", "age", "weight", "description"):
        if row.get(name) is not None and row[name] != "":
            kwargs[name] = row[name]
    dob = row.get("date_of_birth")
    if dob is not None:
        kwargs["date_of_birth"] = dob if dob.tzinfo is not None else dob.replace(tzinfo=UTC)
    nwbfile.subject = Subject(**kwargs)
