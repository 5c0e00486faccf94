"""Polars over the lake: a LazyFrame per table with predicate and projection pushdown."""

from __future__ import annotations

import os

import polars as pl

from npc_lake.lake import Lake
from npc_lake.schema import get_table


def scan(table: str, *, lake: Lake | str | os.PathLike[str] | None = None) -> pl.LazyFrame:
    """A lazy scan of lake table ``table``.

    Parameters
    ----------
    table
        A declared table name (``units``, ``spike_times``, …).
    lake
        The lake (handle, URI, path, or ``None`` for ``$NPC_LAKE_URI`` / ``./lake``).

    Returns
    -------
    polars.LazyFrame
        Empty with the declared columns when the table has no rows yet.
    """
    get_table(table)
    handle = Lake.open(lake if not isinstance(lake, os.PathLike) else os.fspath(lake))
    return handle.scan(table)
