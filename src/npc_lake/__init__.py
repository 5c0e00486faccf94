"""npc_lake: a Delta Lake of Neuropixels behaviour + electrophysiology sessions.

The main entry points, imported lazily so that ``import npc_lake`` stays cheap:

- :func:`connect` — a DuckDB connection with every lake table as a view;
- :func:`scan` — a Polars LazyFrame over one table;
- :func:`ingest` — read one source into the lake;
- :func:`psth`, :func:`block_performance` — spike counts around events and behaviour per block, across sessions;
- :func:`export_nwb`, :func:`validate_nwb` — one session out as an NWB file, checked as DANDI does;
- :class:`Lake` — a handle on a lake folder or S3 prefix.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from npc_lake._version import __version__
from npc_lake.errors import NpcLakeError

if TYPE_CHECKING:
    from npc_lake.analysis import block_performance, psth
    from npc_lake.export.session import export_nwb
    from npc_lake.export.validate import validate_nwb
    from npc_lake.lake import Lake
    from npc_lake.pipeline import ingest
    from npc_lake.query.duckdb import connect, run_sql
    from npc_lake.query.polars import scan
    from npc_lake.session import Session, get_sessions

_LAZY = {
    "connect": "npc_lake.query.duckdb",
    "run_sql": "npc_lake.query.duckdb",
    "scan": "npc_lake.query.polars",
    "ingest": "npc_lake.pipeline",
    "Lake": "npc_lake.lake",
    "Session": "npc_lake.session",
    "get_sessions": "npc_lake.session",
    "export_nwb": "npc_lake.export.session",
    "psth": "npc_lake.analysis",
    "block_performance": "npc_lake.analysis",
    "validate_nwb": "npc_lake.export.validate",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'npc_lake' has no attribute {name!r}")


__all__ = ["Lake", "NpcLakeError", "Session", "__version__", "block_performance", "connect", "export_nwb",
           "get_sessions", "ingest", "psth", "run_sql", "scan", "validate_nwb"]
