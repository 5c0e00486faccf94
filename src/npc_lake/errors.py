"""The one exception tree of npc_lake.

Every error a user can meet derives from :class:`NpcLakeError` and names what it is about: the source
file, the session, or the table. The CLI prints the message and exits non-zero; nothing else needs to
be caught.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
#: Environment variables whose values must never be shown.
SECRET_VARIABLES = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ACCESS_KEY_ID")
#: Parts of S3 error bodies that echo the request's signature material.
_SIGNED_PARTS = re.compile(r"<(AWSAccessKeyId|StringToSign(?:Bytes)?|CanonicalRequest(?:Bytes)?|SignatureProvided)>"
                           r".*?</\1>", re.S)
_S3_ERROR = re.compile(r"<Code>(.*?)</Code>.*?<Message>(.*?)</Message>", re.S)


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """``text`` with credentials removed: the values of :data:`SECRET_VARIABLES` and of ``secrets``, and the
    signature material S3 error bodies echo."""
    values = [os.environ.get(name) for name in SECRET_VARIABLES] + list(secrets)
    for value in sorted({v for v in values if v and len(v) >= 4}, key=len, reverse=True):
        text = text.replace(value, "***")
    return _SIGNED_PARTS.sub("", text)


def storage_reason(exc: BaseException) -> str:
    """A storage error in one line: its first line, plus S3's error code and message when it sent one."""
    text = _ANSI.sub("", str(exc))
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    found = _S3_ERROR.search(text)
    return redact(f"{first} ({found[1]}: {found[2]})" if found else first)


def plain_message(exc: BaseException) -> str:
    """The message of ``exc`` without terminal colour codes (delta-rs puts some in its errors) or credentials."""
    return redact(_ANSI.sub("", str(exc)))


class NpcLakeError(Exception):
    """Base class of every error raised on purpose by npc_lake."""


class SourceError(NpcLakeError):
    """A source file cannot be read: corrupt, truncated, not NWB, an unsupported NWB version.

    Parameters
    ----------
    uri
        The file (local path or remote URI) that failed.
    reason
        What is wrong with it, in words a user can act on.
    """

    def __init__(self, uri: str, reason: str) -> None:
        self.uri = uri
        self.reason = reason
        super().__init__(f"{uri}: {reason}")


class SessionError(NpcLakeError):
    """A session's data break an invariant of the lake (unsorted spikes, a dangling link, …)."""

    def __init__(self, session_id: str, reason: str, *, uri: str | None = None) -> None:
        self.session_id = session_id
        self.reason = reason
        self.uri = uri
        where = f"{uri} (session {session_id})" if uri else f"session {session_id}"
        super().__init__(f"{where}: {reason}")


class InvalidIdError(NpcLakeError):
    """An identifier (session, subject, table) is malformed or unsafe to use in a path."""


class SchemaError(NpcLakeError):
    """A frame does not fit its declared table: a missing required column, an impossible cast."""

    def __init__(self, table: str, reason: str, *, session_id: str | None = None, uri: str | None = None) -> None:
        self.table = table
        self.reason = reason
        self.session_id = session_id
        self.uri = uri
        where = f"table {table}" + (f", session {session_id}" if session_id else "")
        super().__init__(f"{uri} ({where}): {reason}" if uri else f"{where}: {reason}")

    def with_uri(self, uri: str) -> SchemaError:
        """The same error, naming the source file it came from."""
        return SchemaError(self.table, self.reason, session_id=self.session_id, uri=uri)


class LakeError(NpcLakeError):
    """The lake itself cannot be opened, read or written (missing table, storage failure)."""


class UnknownTableError(LakeError):
    """A table name that the schema does not declare and the lake does not hold."""
