"""Identifiers: what a session id may look like, and how one is made for a generic NWB file.

Session ids become Delta partition values and file names, so they are checked before any use.
"""

from __future__ import annotations

import re
from datetime import datetime

from npc_lake.errors import InvalidIdError

_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")
_DR_SESSION_ID = re.compile(r"^(?P<subject>\d{6,7})_(?P<date>\d{4}-\d{2}-\d{2})(?:_(?P<n>\d+))?$")
_UNSAFE_CHARS = re.compile(r"[^A-Za-z0-9_.\-]+")


def validate_id(value: str, *, kind: str = "session id") -> str:
    """Return ``value`` if it is a safe identifier, else raise :class:`InvalidIdError`.

    Safe means: 1–128 characters of letters, digits, ``_``, ``-`` and ``.``, starting with a letter or
    digit, and no ``..`` (so it can never climb out of a folder).

    Parameters
    ----------
    value
        The identifier to check.
    kind
        What the identifier is, for the error message.
    """
    if not isinstance(value, str) or not _SAFE_ID.match(value) or ".." in value:
        raise InvalidIdError(
            f"invalid {kind} {value!r}: use 1-128 letters, digits, '_', '-' or '.', "
            "starting with a letter or digit, without '..'"
        )
    return value


def is_dr_session_id(value: str) -> bool:
    """Whether ``value`` has the Dynamic Routing form ``<subject>_<YYYY-MM-DD>[_<n>]``."""
    return _DR_SESSION_ID.match(value) is not None


def slugify(value: str) -> str:
    """Replace every run of unsafe characters by ``-`` (for ids derived from free text)."""
    return _UNSAFE_CHARS.sub("-", value).strip("-._")[:128]


def derive_session_id(*, session_id: str | None, subject_id: str | None, session_start_time: datetime,
                      identifier: str | None) -> str:
    """Choose the lake session id of an NWB file.

    The file's own ``session_id`` wins when it is a safe id; otherwise ``<subject>_<date>`` from the
    subject and start date; otherwise a slug of the file's identifier.

    Parameters
    ----------
    session_id, subject_id, identifier
        The NWB file's ``general/session_id``, ``general/subject/subject_id`` and ``identifier``.
    session_start_time
        The NWB file's session start time.
    """
    if session_id and _SAFE_ID.match(session_id) and ".." not in session_id:
        return session_id
    if subject_id and slugify(subject_id):
        return validate_id(f"{slugify(subject_id)}_{session_start_time.date().isoformat()}")
    if identifier and slugify(identifier):
        return validate_id(slugify(identifier))
    raise InvalidIdError("cannot derive a session id: no session_id, subject_id or identifier")
