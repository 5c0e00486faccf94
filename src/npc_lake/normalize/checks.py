"""Invariants every session must satisfy before any of its rows reach the lake."""

from __future__ import annotations

import numpy as np
import polars as pl

from npc_lake.errors import SessionError
from npc_lake.schema import Table


def check_primary_key(frame: pl.DataFrame, table: Table, *, session_id: str, uri: str | None = None) -> None:
    """Raise :class:`SessionError` if the primary key of ``table`` repeats in ``frame``."""
    if frame.height < 2:
        return
    key = list(table.primary_key)
    dupes = frame.select(key).filter(pl.struct(key).is_duplicated())
    if dupes.height:
        example = dupes.row(0, named=True)
        raise SessionError(session_id, f"{table.name}: primary key {tuple(key)} repeats, e.g. {example}", uri=uri)


def check_intervals(frame: pl.DataFrame, table: Table, *, session_id: str, uri: str | None = None) -> None:
    """Raise :class:`SessionError` if any row has ``start_time > stop_time``.

    A NaN bound means "not recorded" (some labs' trials have no stop time) and is accepted.
    """
    if not {"start_time", "stop_time"} <= set(frame.columns) or frame.height == 0:
        return
    start, stop = pl.col("start_time"), pl.col("stop_time")
    bad = frame.filter(start.is_not_nan() & stop.is_not_nan() & (start > stop))
    if bad.height:
        row = bad.row(0, named=True)
        raise SessionError(session_id, f"{table.name}: {bad.height} rows with start_time > stop_time, "
                           f"e.g. start_time={row['start_time']} stop_time={row['stop_time']}", uri=uri)


def check_links(tables: dict[str, pl.DataFrame], *, session_id: str, uri: str | None = None) -> None:
    """Raise :class:`SessionError` if a unit or electrode names a group or electrode that does not exist."""
    groups = set(tables["electrode_groups"]["electrode_group_name"].to_list())
    for name in ("units", "electrodes"):
        frame = tables[name]
        named = frame["electrode_group_name"].drop_nulls()
        missing = sorted(set(named.to_list()) - groups)
        if missing:
            raise SessionError(session_id, f"{name}: electrode group(s) {missing} are not among the session's "
                               f"electrode groups {sorted(groups)}", uri=uri)
    electrode_ids = set(tables["electrodes"]["electrode_id"].to_list())
    units = tables["units"]
    linked = set(units["electrodes"].explode().drop_nulls().to_list()) | set(
        units["peak_electrode"].drop_nulls().to_list())
    missing_electrodes = sorted(linked - electrode_ids)
    if missing_electrodes:
        raise SessionError(session_id, f"units: electrode id(s) {missing_electrodes[:10]} are not in the "
                           "session's electrodes table", uri=uri)


def check_spike_batch(batch: pl.DataFrame, *, known_units: set[str], seen_units: set[str], session_id: str,
                      uri: str | None = None) -> dict[str, int]:
    """Check one batch of spikes: known units, each unit in one batch only, finite times sorted per unit.

    ``seen_units`` is updated with the units of this batch.

    Returns
    -------
    dict
        Spike count per unit of the batch.
    """
    if batch.height == 0:
        return {}
    runs = batch.select(pl.col("unit_id").rle()).unnest("unit_id")
    run_units, run_lengths = runs["value"].to_list(), runs["len"].to_numpy()
    counts: dict[str, int] = {}
    for unit, length in zip(run_units, run_lengths.tolist(), strict=True):
        counts[unit] = counts.get(unit, 0) + length
    unknown = sorted(set(counts) - known_units)
    if unknown:
        raise SessionError(session_id, f"spike_times: spikes of unit(s) {unknown[:5]} that are not in units", uri=uri)
    repeated = sorted(set(counts) & seen_units)
    if repeated:
        raise SessionError(session_id, f"spike_times: unit(s) {repeated[:5]} split across batches", uri=uri)
    seen_units |= set(counts)
    times = batch["spike_time"].to_numpy()
    if not np.isfinite(times).all():
        raise SessionError(session_id, "spike_times: NaN or infinite spike times", uri=uri)
    if len(run_units) == len(counts):  # every unit's spikes are contiguous: compare neighbours in numpy
        backwards = np.diff(times) < 0
        backwards[np.cumsum(run_lengths)[:-1] - 1] = False  # a step from one unit to the next is no step back
        bad = sorted({run_units[i] for i in np.searchsorted(np.cumsum(run_lengths), np.flatnonzero(backwards) + 1,
                                                              side="right")})
    else:
        bad = sorted(batch.lazy().filter(pl.col("spike_time").diff().over("unit_id") < 0)
                     .select(pl.col("unit_id").unique()).collect()["unit_id"].to_list())
    if bad:
        raise SessionError(session_id, f"spike_times: spike times of unit(s) {bad[:5]} "
                           "are not sorted (pass --sort-spikes / sort_spikes=True to sort them on ingest)", uri=uri)
    return counts
