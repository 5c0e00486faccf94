"""Helpers of the distributed tests: a lake's rows and per-session counts, for comparing lakes."""

from __future__ import annotations

import polars as pl

from npc_lake.lake import Lake
from npc_lake.schema import SESSION_TABLES

PROVENANCE = ("source_uri",)


def lake_rows(lake: Lake) -> dict[str, pl.DataFrame]:
    """Every session table's rows, sorted, without columns that name where they came from."""
    out = {}
    for name in SESSION_TABLES:
        frame = lake.scan(name).collect()
        frame = frame.drop([c for c in PROVENANCE if c in frame.columns])
        out[name] = frame.sort(frame.columns) if frame.height else frame
    return out


def session_counts(lake: Lake) -> dict[str, dict[str, int]]:
    """Rows per session in every session table."""
    return {name: dict(lake.scan(name).group_by("session_id").len().collect().iter_rows())
            for name in SESSION_TABLES}
