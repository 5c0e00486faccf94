"""ETL job files (``etl/*.toml``): which sources, which lake, which executor. Data only, no logic.

A job file has one ``[ingest]`` table::

    [ingest]
    description = "DR release 2026-12: every processed session"
    lake = "s3://dr-lake/v1"
    sources = ["s3://raw-bucket/sessions/*.nwb.zarr", "extra_sessions.txt"]
    executor = "dask"                  # inprocess | process | dask
    scheduler = "tcp://10.0.0.5:8786"  # dask only; without it a LocalCluster of `workers`
    workers = 8
    source_format = "auto"             # auto | nwb | dr-raw
    max_attempts = 3
    sort_spikes = false
    replace = false
    force = false
    tag = "release-2026-12"            # tag the snapshot when every source succeeded

``npc-lake run-job FILE`` runs it; relative local paths are taken relative to the job file's folder.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path

from npc_lake.distributed.run import resolve_against
from npc_lake.errors import SourceError


@dataclass(frozen=True)
class IngestJobFile:
    """The ``[ingest]`` table of a job file (see the module docstring for the keys)."""

    lake: str
    sources: list[str]
    description: str | None = None
    executor: str = "inprocess"
    scheduler: str | None = None
    workers: int = 1
    source_format: str = "auto"
    max_attempts: int = 3
    sort_spikes: bool = False
    replace: bool = False
    force: bool = False
    tag: str | None = None
    path: Path | None = field(default=None, compare=False)


_TYPES: dict[str, type | tuple[type, ...]] = {"lake": str, "sources": list, "description": str, "executor": str,
                                              "scheduler": str, "workers": int, "source_format": str,
                                              "max_attempts": int, "sort_spikes": bool, "replace": bool,
                                              "force": bool, "tag": str}


def load_job_file(path: str | os.PathLike[str]) -> IngestJobFile:
    """Read and check a job file.

    Raises
    ------
    SourceError
        The file cannot be read, is not TOML, lacks ``[ingest]`` / ``lake`` / ``sources``, or has an unknown
        key or a value of the wrong type (the message names the file and the key).
    """
    job_path = Path(path)
    where = str(job_path)
    try:
        document = tomllib.loads(job_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SourceError(where, f"cannot read the job file: {exc}") from None
    table = document.get("ingest")
    if not isinstance(table, dict):
        raise SourceError(where, "a job file needs an [ingest] table")
    known = {f.name for f in fields(IngestJobFile)} - {"path"}
    for key, value in table.items():
        if key not in known:
            raise SourceError(where, f"unknown key {key!r} in [ingest] (known: {', '.join(sorted(known))})")
        expected = _TYPES[key]
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            raise SourceError(where, f"[ingest] {key} = {value!r} is not a {getattr(expected, '__name__', expected)}")
    for key in ("lake", "sources"):
        if key not in table:
            raise SourceError(where, f"[ingest] needs {key!r}")
    if not table["sources"] or not all(isinstance(s, str) for s in table["sources"]):
        raise SourceError(where, "[ingest] sources must be a non-empty list of strings")
    folder = job_path.parent
    values = dict(table)
    values["sources"] = [resolve_against(s, folder) for s in table["sources"]]
    values["lake"] = resolve_against(table["lake"], folder)
    return IngestJobFile(**values, path=job_path)
