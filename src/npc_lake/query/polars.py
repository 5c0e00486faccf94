"""Polars over the lake: a LazyFrame per table with predicate and projection pushdown."""

from __future__ import annotations

import os

import polars as pl

from npc_lake.lake import Lake
from npc_lake.lake.snapshots import AsOf, snapshot
from npc_lake.schema import get_table


def scan(table: str, *, lake: Lake | str | os.PathLike[str] | None = None, as_of: AsOf | None = None) -> pl.LazyFrame:
    """A lazy scan of lake table ``table``.

    Parameters
    ----------
    table
        A declared table name (``units``, ``spike_times``, …).
    lake
        The lake (handle, URI, path, or ``None`` for ``$NPC_LAKE_URI`` / ``./lake``).
    as_of
        Read the table as it was in the snapshot this ingest-log version, tag or time names (every
        session whole, as of its latest ingest then); the latest state if ``None``.

    Returns
    -------
    polars.LazyFrame
        Empty with the declared columns when the table has no rows yet.
    """
    get_table(table)
    handle = Lake.open(lake if not isinstance(lake, os.PathLike) else os.fspath(lake))
    if as_of is None:
        return handle.scan(table)
    version = snapshot(handle, as_of).get(table)
    return handle.scan(table, version=version) if version is not None else pl.LazyFrame(
        schema=get_table(table).polars_schema)
