"""Keeping a lake healthy: a cross-table consistency check, compaction and vacuum.

Compaction and vacuum hold the writer lock (:meth:`Lake.write_lock`), so they never run between the
commits of a session. ``spike_times`` is not compacted: it is written in large files, one series per
(structure, default_qc) group, which compaction would mix.
"""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl

from npc_lake.lake.log import IngestRecord
from npc_lake.lake.store import Lake
from npc_lake.lake.write import EMPTY_PARTITION_DIGEST as EMPTY
from npc_lake.lake.write import partition_file_digests
from npc_lake.schema import SESSION_TABLES, TABLES

#: Tables compaction leaves alone (see the module docstring).
NOT_COMPACTED = ("spike_times",)
PROBLEM_SCHEMA = {"session_id": pl.String, "table": pl.String, "problem": pl.String, "count": pl.Int64}


def _problems(rows: Iterable[tuple[str, str, str, int]]) -> pl.DataFrame:
    return pl.DataFrame(list(rows), schema=PROBLEM_SCHEMA, orient="row")


def check_lake(lake: Lake | str | None = None) -> pl.DataFrame:
    """Find sessions whose rows disagree across tables or with the ingest log.

    Checked, per session: its rows in every table against the row counts its latest ingest logged, and
    its data files against those that ingest wrote (a write cut short shows here), a ``sessions`` row,
    units without their spikes and spikes of unknown units (``units.num_spikes`` against
    ``spike_times``), units whose peak electrode is not in ``electrodes``, and trials outside every epoch
    of the session.

    Returns
    -------
    polars.DataFrame
        ``session_id``, ``table``, ``problem``, ``count``: one row per problem found (empty when healthy).
    """
    handle = Lake.open(lake)
    found: list[tuple[str, str, str, int]] = []
    log = handle.scan("ingest_log").collect().sort("ingested_at")
    latest = {r.session_id: r for r in (IngestRecord.from_row(row) for row in log.iter_rows(named=True))}
    counts = {name: dict(handle.scan(name).group_by("session_id").len().collect().iter_rows())
              for name in SESSION_TABLES}
    tables = {name: handle.delta_table(name) for name in SESSION_TABLES}
    digests = {name: partition_file_digests(t) if t is not None else {} for name, t in tables.items()}
    sessions = set().union(*(set(c) for c in counts.values()))
    for session_id in sorted(sessions | set(latest)):
        record = latest.get(session_id)
        if record is None:
            found.append((session_id, "ingest_log", "rows in the tables but no ingest of the session", 1))
            continue
        for name in SESSION_TABLES:
            have, logged = counts[name].get(session_id, 0), record.row_counts.get(name, 0)
            if have != logged:
                found.append((session_id, name, f"{have} rows, the latest ingest logged {logged}", abs(have - logged)))
            elif name in record.file_digests and digests[name].get(session_id, EMPTY) != record.file_digests[name]:
                found.append((session_id, name, "data files are not the ones the latest ingest wrote", 1))
        if counts["sessions"].get(session_id, 0) != 1:
            found.append((session_id, "sessions", "not exactly one sessions row", 1))
    units = handle.scan("units").select("session_id", "unit_id", "num_spikes", "peak_electrode").collect()
    spikes = handle.scan("spike_times").group_by("session_id", "unit_id").len().collect()
    joined = units.join(spikes, on=["session_id", "unit_id"], how="full", coalesce=True)
    for (session_id,), rows in joined.group_by(["session_id"]):
        unknown = rows.filter(pl.col("num_spikes").is_null() & pl.col("len").is_not_null()).height
        missing = rows.filter((pl.col("num_spikes").fill_null(0) != pl.col("len").fill_null(0))
                              & pl.col("num_spikes").is_not_null()).height
        if unknown:
            found.append((str(session_id), "spike_times", "spikes of units the units table does not have", unknown))
        if missing:
            found.append((str(session_id), "units", "units whose num_spikes differs from their spike_times", missing))
    electrodes = handle.scan("electrodes").select("session_id", pl.col("electrode_id").alias("peak_electrode"))
    dangling = (units.lazy().filter(pl.col("peak_electrode").is_not_null())
                .join(electrodes, on=["session_id", "peak_electrode"], how="anti")
                .group_by("session_id").len().collect())
    found += [(s, "units", "peak electrode not in electrodes", n) for s, n in dangling.iter_rows()]
    epochs = handle.scan("epochs").select("session_id", "start_time", "stop_time").collect()
    trials = handle.scan("trials").select("session_id", "trial_index", "start_time", "stop_time").collect()
    with_epochs = trials.join(epochs.select("session_id").unique(), on="session_id", how="semi")
    inside = (with_epochs.join(epochs, on="session_id", suffix="_epoch")
              .filter((pl.col("start_time") >= pl.col("start_time_epoch") - 1e-6)
                      & (pl.col("stop_time") <= pl.col("stop_time_epoch") + 1e-6))
              .select("session_id", "trial_index").unique())
    outside = with_epochs.join(inside, on=["session_id", "trial_index"], how="anti").group_by("session_id").len()
    found += [(s, "trials", "trials outside every epoch of the session", n) for s, n in outside.iter_rows()]
    return _problems(found).sort("session_id", "table")


def optimize_lake(lake: Lake | str | None = None, *, tables: Iterable[str] | None = None) -> dict[str, int]:
    """Compact each table's small files (under the writer lock); returns files removed per table."""
    handle = Lake.open(lake)
    names = [n for n in (tables or TABLES) if n not in NOT_COMPACTED]
    removed: dict[str, int] = {}
    with handle.write_lock():
        for name in names:
            table = handle.delta_table(name)
            if table is None:
                continue
            metrics = table.optimize.compact()
            removed[name] = int(metrics.get("numFilesRemoved", 0))
    return removed


def vacuum_lake(lake: Lake | str | None = None, *, retain_hours: float = 168.0,
                dry_run: bool = False) -> dict[str, int]:
    """Delete files no table version younger than ``retain_hours`` refers to (under the writer lock).

    Snapshots older than that (tags included) can no longer be read afterwards; the default keeps a week.

    Returns
    -------
    dict
        Files deleted (or, with ``dry_run``, that would be) per table.
    """
    handle = Lake.open(lake)
    deleted: dict[str, int] = {}
    with handle.write_lock():
        for name in TABLES:
            table = handle.delta_table(name)
            if table is None:
                continue
            files = table.vacuum(retention_hours=int(retain_hours), dry_run=dry_run, enforce_retention_duration=False)
            deleted[name] = len(files)
    return deleted
