"""Peri-stimulus time histograms across any number of sessions, straight from the lake.

Only the spike files that hold the requested units are read: spike_times is stored in one file series
per (structure, default_qc) of the units (see :mod:`npc_lake.lake.stream`), so the units' own structure and
QC flag name the files. Alignment needs no sort: for every spike, the events whose window may contain it
are found by binary search in the session's sorted event times.

A spike at ``t`` counts for an event at ``onset`` when ``window[0] <= t - onset < window[1]``, in bin
``floor((t - onset - window[0]) / bin_size)`` (bins past the last are dropped), computed in float64 exactly
as written, so that the counts match any other engine that bins the same way.
"""

from __future__ import annotations

import functools
import math
import operator
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

from npc_lake.errors import NpcLakeError
from npc_lake.lake import Lake

#: The candidate search is widened by this much; the exact window is then applied.
_SLACK = 1e-6


def _require(frame: pl.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise NpcLakeError(f"psth: {what} lacks column(s) {missing}")


def _candidate_spikes(handle: Lake, units: pl.DataFrame) -> pl.LazyFrame:
    """(session_id, unit_id, spike_time) in the files that hold ``units``: the files of their structure and QC
    flag. Other units of those files come along (dropped after alignment, when few rows are left)."""
    groups = (handle.scan("units").select("session_id", "unit_id", "structure", "default_qc")
              .join(units.lazy(), on=["session_id", "unit_id"], how="semi")
              .select("structure", "default_qc").unique().collect())

    def equals(column: str, value: Any) -> pl.Expr:  # plain comparisons: scans prune files and row groups by them
        return pl.col(column).is_null() if value is None else pl.col(column) == value

    conditions = [equals("structure", s) & equals("default_qc", q) for s, q in groups.iter_rows()]
    in_groups = functools.reduce(operator.or_, conditions) if conditions else pl.lit(False)
    return handle.scan("spike_times").filter(in_groups).select("session_id", "unit_id", "spike_time")


def _align(times: np.ndarray[Any, Any], onsets: np.ndarray[Any, Any], window: tuple[float, float],
           bin_size: float, n_bins: int) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """(spike index, event index, bin) of every spike that falls in an event's window; ``onsets`` sorted."""
    start, stop = window
    hi = np.searchsorted(onsets, times - start + _SLACK, side="right")
    lo = np.searchsorted(onsets, times - stop - _SLACK, side="right")
    n = hi - lo
    spike = np.repeat(np.arange(times.shape[0]), n)
    event = np.repeat(lo, n) + (np.arange(spike.shape[0]) - np.repeat(np.cumsum(n) - n, n))
    relative = times[spike] - onsets[event]
    keep = (relative >= start) & (relative < stop)
    spike, event, relative = spike[keep], event[keep], relative[keep]
    bins = np.floor((relative - start) / bin_size).astype(np.int64)
    keep = (bins >= 0) & (bins < n_bins)
    return spike[keep], event[keep], bins[keep]


def psth(units: pl.DataFrame, events: pl.DataFrame, *, lake: Lake | str | os.PathLike[str] | None = None,
         window: tuple[float, float] = (-0.5, 1.0), bin_size: float = 0.01, by: Sequence[str] = (),
         dense: bool = True) -> pl.DataFrame:
    """Spike counts of ``units`` around ``events``, summed over the events of each ``by`` group.

    Parameters
    ----------
    units
        Frame with ``session_id`` and ``unit_id``: the units to count (any number of sessions).
    events
        Frame with ``session_id``, ``event_time`` (seconds, session clock) and the columns named in ``by``.
    lake
        The lake (handle, URI, or ``None`` for ``$NPC_LAKE_URI`` / ``./lake``).
    window
        (start, stop) in seconds relative to each event; start inclusive, stop exclusive.
    bin_size
        Bin width in seconds.
    by
        Event columns to split by (e.g. ``("rewarded_modality",)``).
    dense
        Include bins without spikes (``spike_count`` 0) for every unit and ``by`` group of its session.

    Returns
    -------
    polars.DataFrame
        ``session_id``, ``unit_id``, the ``by`` columns, ``bin_index``, ``bin_start`` (seconds relative to
        the event), ``spike_count`` (summed over events) and ``n_events`` (events in the group).

    Raises
    ------
    NpcLakeError
        A frame lacks a required column, or the window or bin size is not positive.
    """
    _require(units, ("session_id", "unit_id"), "units")
    _require(events, ("session_id", "event_time", *by), "events")
    start, stop = float(window[0]), float(window[1])
    if not (stop > start and bin_size > 0):
        raise NpcLakeError(f"psth: window {window} and bin_size {bin_size} must be increasing and positive")
    n_bins = math.ceil(round((stop - start) / bin_size, 9))
    handle = Lake.open(lake)
    units = units.select("session_id", "unit_id").unique()
    events = events.select("session_id", "event_time", *by).drop_nulls("event_time").sort("session_id", "event_time")
    spikes = _candidate_spikes(handle, units)
    wanted_sessions = set(units["session_id"].to_list())
    keys = ["session_id", "unit_id", *by]
    parts = []
    for (session_id,), session_events in events.group_by(["session_id"], maintain_order=True):
        if session_id not in wanted_sessions:
            continue
        session_spikes = spikes.filter(pl.col("session_id") == session_id).collect()  # one partition's files
        if session_spikes.is_empty():
            continue
        spike, event, bins = _align(session_spikes["spike_time"].to_numpy(), session_events["event_time"].to_numpy(),
                                    (start, stop), bin_size, n_bins)
        parts.append(pl.DataFrame({"unit_id": session_spikes["unit_id"].gather(spike), "bin_index": bins})
                     .with_columns(session_events.select(by).gather(event) if by else [])
                     .with_columns(session_id=pl.lit(session_id, dtype=pl.String)))
    schema: dict[str, Any] = {"session_id": pl.String, "unit_id": pl.String,
                              **{c: events.schema[c] for c in by}, "bin_index": pl.Int64}
    aligned = pl.concat(parts, how="vertical_relaxed") if parts else pl.DataFrame(schema=schema)
    aligned = aligned.join(units, on=["session_id", "unit_id"], how="semi")
    counts = aligned.group_by([*keys, "bin_index"]).agg(pl.len().cast(pl.Int64).alias("spike_count"))
    n_events = events.group_by(["session_id", *by]).agg(pl.len().cast(pl.Int64).alias("n_events"))
    if dense:
        grid = (units.join(n_events.select("session_id", *by), on="session_id")
                .join(pl.DataFrame({"bin_index": np.arange(n_bins, dtype=np.int64)}), how="cross"))
        counts = grid.join(counts, on=[*keys, "bin_index"], how="left").with_columns(
            pl.col("spike_count").fill_null(0))
    return (counts.join(n_events, on=["session_id", *by], how="left")
            .with_columns(bin_start=start + pl.col("bin_index") * bin_size)
            .select(*keys, "bin_index", "bin_start", "spike_count", "n_events")
            .sort([*keys, "bin_index"]))
