"""Where every source stands: the latest record of each in ``ingest_runs``."""

from __future__ import annotations

import polars as pl

from npc_lake.lake import Lake

STATUS_COLUMNS = ("source_uri", "session_id", "status", "attempt", "error_class", "error_message", "worker",
                  "duration_s", "recorded_at", "run_id")


def ingest_status(lake: Lake | str | None = None, *, run_id: str | None = None) -> pl.DataFrame:
    """One row per source ever ingested (or only those of ``run_id``): its latest state.

    ``status`` is ``ok``, ``unchanged``, ``failed`` or ``running`` (an attempt started and has not ended:
    it is still going, or its worker died and nothing retried it yet; ``recorded_at`` says since when).

    Returns
    -------
    polars.DataFrame
        Columns :data:`STATUS_COLUMNS`, sorted by source.
    """
    handle = Lake.open(lake)
    if handle.delta_table("ingest_runs") is None:
        return pl.DataFrame(schema={c: pl.String for c in STATUS_COLUMNS})
    runs = handle.scan("ingest_runs")
    if run_id is not None:
        runs = runs.filter(pl.col("run_id") == run_id)
    frame = runs.collect().sort("recorded_at")
    sessions = (frame.filter(pl.col("session_id").is_not_null()).group_by("source_uri")
                .agg(pl.col("session_id").last()))
    latest = frame.group_by("source_uri").agg(pl.all().exclude("session_id").last())
    return (latest.join(sessions, on="source_uri", how="left")
            .with_columns(pl.col("status").replace({"started": "running"}))
            .select(STATUS_COLUMNS).sort("source_uri"))
