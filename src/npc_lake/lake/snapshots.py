"""Consistent snapshots of the whole lake: "as of" an ingest-log version, a timestamp or a tag.

Sessions are committed one at a time (:meth:`Lake.write_lock`) and each ends with its ingest-log row, so a
version of the ``ingest_log`` table names a state in which every logged session is whole: the table
versions its newest row recorded. A timestamp names the last log version committed at or before it; a
tag (the ``tags`` table) names a log version by a name.
"""

from __future__ import annotations

import getpass
import re
import socket
from datetime import UTC, datetime

import polars as pl

from npc_lake.errors import LakeError
from npc_lake.lake.log import snapshot_versions
from npc_lake.lake.store import Lake

#: What ``as_of`` may be: an ingest-log version, a tag name, or a time (a datetime or ISO 8601 text).
AsOf = int | str | datetime
_TAG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def _at_time(lake: Lake, when: datetime) -> int:
    table = lake.delta_table("ingest_log")
    if table is None:
        raise LakeError(f"{lake.uri} has no ingest log yet")
    when = when if when.tzinfo is not None else when.replace(tzinfo=UTC)
    stamp_ms = when.timestamp() * 1000
    versions = [entry["version"] for entry in table.history() if entry.get("timestamp", 0) <= stamp_ms]
    if not versions:
        raise LakeError(f"the ingest log of {lake.uri} has no version at or before {when.isoformat()}")
    return int(max(versions))


def resolve_log_version(lake: Lake | str | None, as_of: AsOf) -> int:
    """The ingest-log version that ``as_of`` names.

    Raises
    ------
    LakeError
        No such version, tag or time in this lake.
    """
    handle = Lake.open(lake)
    current = handle.version("ingest_log")
    if isinstance(as_of, bool):
        raise LakeError(f"as_of must be a log version, a tag or a time, not {as_of!r}")
    if isinstance(as_of, int):
        version = as_of
    elif isinstance(as_of, datetime):
        version = _at_time(handle, as_of)
    elif re.fullmatch(r"\d+", as_of):
        version = int(as_of)
    else:
        try:
            return _at_time(handle, datetime.fromisoformat(as_of))
        except ValueError:
            pass
        tags = handle.scan("tags").filter(pl.col("tag") == as_of).collect()
        if tags.is_empty():
            raise LakeError(f"no tag {as_of!r} in {handle.uri} (and it is not a log version or ISO time)")
        version = int(tags["log_version"][0])
    if current is None or not 0 <= version <= current:
        raise LakeError(f"no ingest-log version {version} in {handle.uri} (latest: {current})")
    return version


def snapshot(lake: Lake | str | None, as_of: AsOf) -> dict[str, int]:
    """The Delta version of every table in the snapshot ``as_of`` names; tables not created yet are absent.

    The ingest log itself is read at the log version; tags are not part of snapshots (the latest are used).
    """
    handle = Lake.open(lake)
    log_version, versions = snapshot_versions(handle, as_of=resolve_log_version(handle, as_of))
    tags = handle.version("tags")
    assert log_version is not None
    return {**versions, "ingest_log": log_version, **({"tags": tags} if tags is not None else {})}


def create_tag(name: str, *, lake: Lake | str | None = None, message: str | None = None,
               as_of: AsOf | None = None) -> int:
    """Name the current state of the lake (or the one ``as_of`` names) ``name``.

    Returns
    -------
    int
        The ingest-log version the tag names.

    Raises
    ------
    LakeError
        A bad or existing tag name, or nothing ingested yet.
    """
    from npc_lake.lake.write import append_rows

    handle = Lake.open(lake)
    if not _TAG.match(name):
        raise LakeError(f"tag {name!r}: use letters, digits, '.', '_' and '-' (at most 100)")
    if not handle.scan("tags").filter(pl.col("tag") == name).collect().is_empty():
        raise LakeError(f"tag {name!r} exists in {handle.uri}; tags are never moved")
    version = resolve_log_version(handle, as_of) if as_of is not None else handle.version("ingest_log")
    if version is None:
        raise LakeError(f"{handle.uri} has no ingest log yet: nothing to tag")
    append_rows(handle, "tags", pl.DataFrame({
        "tag": [name], "log_version": [version], "message": [message], "created_at": [datetime.now(UTC)],
        "created_by": [f"{getpass.getuser()}@{socket.gethostname()}"]}))
    return version


def list_tags(lake: Lake | str | None = None) -> pl.DataFrame:
    """Every tag, oldest first."""
    return Lake.open(lake).scan("tags").sort("created_at").collect()
