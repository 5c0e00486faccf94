"""Peri-stimulus time histograms across any number of sessions, straight from the lake.

Only the spike files that hold the requested units are read: spike_times is stored in one file series
per (structure, default_qc) of the units (see :mod:`npc_lake.lake.stream`), so the units' own structure and
QC flag name the files, and unit ids stay dictionary codes (no string per spike is built). Counting
touches only the spikes inside some window: each unit's train is sorted, so the first spike of every
(unit, event) window is found by binary search in the train, and the window's spikes are added to one
(unit, group, bin) array per session, by NumPy or, for large counts, a compiled loop
(:mod:`npc_lake.analysis.counting`).

A spike at ``t`` counts for an event at ``onset`` when ``window[0] <= t - onset < window[1]``, in bin
``floor((t - onset - window[0]) / bin_size)`` (bins past the last are dropped), computed in float64 exactly
as written, so that the counts match any other engine that bins the same way.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from npc_lake.analysis.counting import Engine, add_window_counts
from npc_lake.errors import NpcLakeError
from npc_lake.lake import Lake
from npc_lake.lake.spikes import SpikeChunk, SpikeFiles, UnitGroup

#: The binary search for a window's spikes is widened by this much; the exact window is then applied.
_SLACK = 1e-6
#: Past this many sorted runs per spike (data stored out of order), a chunk is sorted first.
_MAX_RUN_FRACTION = 1 / 64
#: Sessions counted at once.
_THREADS = min(4, os.cpu_count() or 1)

Array = np.ndarray[Any, Any]


def _require(frame: pl.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise NpcLakeError(f"psth: {what} lacks column(s) {missing}")


def _unit_groups(handle: Lake, units: pl.DataFrame) -> dict[str, list[UnitGroup]]:
    """Per session, the (structure, default_qc) pairs of ``units``: they name the files to read."""
    groups = (handle.scan("units").select("session_id", "unit_id", "structure", "default_qc")
              .join(units.lazy(), on=["session_id", "unit_id"], how="semi")
              .select("session_id", "structure", "default_qc").unique().collect())
    found: dict[str, list[UnitGroup]] = {}
    for session_id, structure, qc in groups.iter_rows():
        found.setdefault(session_id, []).append((structure, qc))
    return found


@dataclass(frozen=True)
class SpikeRuns:
    """Spikes as runs of one unit code with non-decreasing times: ``times[starts[r]:stops[r]]`` are spikes of
    code ``codes[r]``."""

    times: Array
    starts: Array
    stops: Array
    codes: Array


def find_runs(codes: Array, times: Array) -> SpikeRuns:
    """The runs of ``codes``/``times`` (any order). Rows are sorted by (code, time) first when the stored order
    leaves too many runs (a lake written out of order)."""
    breaks = np.flatnonzero((codes[1:] != codes[:-1]) | (times[1:] < times[:-1])) + 1
    if breaks.shape[0] > max(64, codes.shape[0] * _MAX_RUN_FRACTION):
        order = np.lexsort((times, codes))
        codes, times = codes[order], times[order]
        breaks = np.flatnonzero((codes[1:] != codes[:-1]) | (times[1:] < times[:-1])) + 1
    starts = np.concatenate([[0], breaks]).astype(np.int64)
    stops = np.concatenate([breaks, [codes.shape[0]]]).astype(np.int64)
    return SpikeRuns(times, starts, stops, codes[starts] if codes.shape[0] else codes[:0])


def count_runs(runs: SpikeRuns, code_to_row: Array, onsets: Array, event_group: Array, *,
               window: tuple[float, float], bin_size: float, counts: Array, engine: Engine = "auto") -> None:
    """Add the spikes of ``runs`` to ``counts[row, group, bin]`` around ``onsets`` (sorted), binned as :func:`psth`
    bins them.

    Parameters
    ----------
    runs
        The spikes (:func:`find_runs`).
    code_to_row
        Row of ``counts`` for each code (``-1``: not counted).
    onsets, event_group
        Event times, sorted, and the group (second axis of ``counts``) of each event.
    window, bin_size
        As for :func:`psth`.
    counts
        int64 array (rows, groups, bins), updated in place.
    engine
        Counting engine (:mod:`npc_lake.analysis.counting`).
    """
    if runs.times.shape[0] == 0 or onsets.shape[0] == 0:
        return
    add_window_counts(runs.times, runs.starts, runs.stops, code_to_row[runs.codes], onsets, event_group,
                      window=window, bin_size=bin_size, slack=_SLACK, counts=counts, engine=engine)


def _count_chunk(chunk: SpikeChunk, wanted: dict[str, int], onsets: Array, event_group: Array,
                 window: tuple[float, float], bin_size: float, counts: Array, engine: Engine) -> None:
    """Add the chunk's spikes of ``wanted`` units (id -> row of ``counts``) to ``counts[unit, group, bin]``."""
    code_to_row = np.array([wanted.get(u, -1) for u in chunk.unit_ids], dtype=np.int64)
    if (code_to_row >= 0).any():
        count_runs(find_runs(chunk.codes, chunk.spike_times), code_to_row, onsets, event_group, window=window,
                   bin_size=bin_size, counts=counts, engine=engine)


def _session_counts(files: SpikeFiles, session_id: str, unit_ids: list[str], onsets: Array, event_group: Array, *,
                    unit_groups: list[UnitGroup], n_groups: int, window: tuple[float, float], bin_size: float,
                    n_bins: int, engine: Engine) -> Array:
    """One session's (unit, group, bin) counts of ``unit_ids`` around ``onsets`` (sorted)."""
    counts = np.zeros((len(unit_ids), n_groups, n_bins), dtype=np.int64)
    wanted = {unit_id: row for row, unit_id in enumerate(unit_ids)}
    for chunk in files.chunks(session_id, unit_groups=unit_groups, unit_ids=unit_ids):
        _count_chunk(chunk, wanted, onsets, event_group, window, bin_size, counts, engine)
    return counts


def psth(units: pl.DataFrame, events: pl.DataFrame, *, lake: Lake | str | os.PathLike[str] | None = None,
         window: tuple[float, float] = (-0.5, 1.0), bin_size: float = 0.01, by: Sequence[str] = (),
         dense: bool = True, engine: Engine = "auto") -> pl.DataFrame:
    """Spike counts of ``units`` around ``events``, summed over the events of each ``by`` group.

    Parameters
    ----------
    units
        Frame with ``session_id`` and ``unit_id``: the units to count (any number of sessions). With its
        ``structure`` and ``default_qc`` columns too (as ``units`` has them), the lake's units table is not
        read to find which spike files hold them.
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
    engine
        How windows are counted: ``"numpy"``, ``"numba"`` (compiled) or ``"auto"`` (numba only for calls whose
        windows hold millions of spikes); the counts are the same (:mod:`npc_lake.analysis.counting`).

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
    units = units.unique(subset=["session_id", "unit_id"], keep="first", maintain_order=True)
    events = events.select("session_id", "event_time", *by).drop_nulls("event_time").sort("session_id", "event_time")
    if by:  # one group code per distinct combination of the ``by`` values, across sessions
        groups = events.select(by).unique(maintain_order=True).with_row_index("_group")
        events = events.join(groups, on=list(by), how="left", nulls_equal=True, maintain_order="left")
    else:
        groups = pl.DataFrame({"_group": [0]}, schema={"_group": pl.UInt32})
        events = events.with_columns(_group=pl.lit(0, dtype=pl.UInt32))
    unit_groups = (_groups_of(units) if {"structure", "default_qc"} <= set(units.columns)
                   else _unit_groups(handle, units))
    unit_lists = {key[0]: frame["unit_id"].to_list()
                  for key, frame in units.partition_by("session_id", as_dict=True, maintain_order=True).items()}
    session_events = {key[0]: (frame["event_time"].to_numpy(), frame["_group"].to_numpy().astype(np.int64))
                      for key, frame in events.partition_by("session_id", as_dict=True, maintain_order=True).items()}
    sessions = [s for s in session_events if s in unit_lists]
    files = SpikeFiles(handle)

    def count(session_id: str) -> Array:
        onsets, event_group = session_events[session_id]
        return _session_counts(files, session_id, unit_lists[session_id], onsets, event_group,
                               unit_groups=unit_groups.get(session_id, []), n_groups=groups.height,
                               window=(start, stop), bin_size=bin_size, n_bins=n_bins, engine=engine)

    with ThreadPoolExecutor(max_workers=_THREADS) as pool:  # Parquet decoding and NumPy release the GIL
        counted = list(pool.map(count, sessions))
    return _frame(sessions, counted, unit_lists, session_events, groups, by=by, dense=dense, start=start,
                  bin_size=bin_size)


def _groups_of(units: pl.DataFrame) -> dict[str, list[UnitGroup]]:
    """Per session, the (structure, default_qc) pairs of ``units`` that carry both columns."""
    found: dict[str, list[UnitGroup]] = {}
    for session_id, structure, qc in units.select("session_id", "structure", "default_qc").unique().iter_rows():
        found.setdefault(session_id, []).append((structure, qc))
    return found


def _frame(sessions: list[str], counted: list[Array], unit_lists: dict[str, list[str]],
           session_events: dict[str, tuple[Array, Array]], groups: pl.DataFrame, *, by: Sequence[str], dense: bool,
           start: float, bin_size: float) -> pl.DataFrame:
    """The long result frame of every session's (unit, group, bin) counts, built with one gather per column."""
    parts: list[tuple[Array, ...]] = []
    unit_offset = 0
    all_units: list[str] = []
    for position, (session_id, counts) in enumerate(zip(sessions, counted, strict=True)):
        n_events = np.bincount(session_events[session_id][1], minlength=groups.height)
        if dense:  # every bin of every unit, for the groups this session has events of
            present = counts[:, n_events > 0, :]
            unit, group_present, bins = (index.ravel() for index in np.indices(present.shape))
            group = np.flatnonzero(n_events > 0)[group_present]
        else:
            unit, group, bins = np.nonzero(counts)
        parts.append((np.full(unit.size, position), unit + unit_offset, group, bins, counts[unit, group, bins],
                      n_events[group]))
        unit_offset += len(unit_lists[session_id])
        all_units.extend(unit_lists[session_id])
    columns = [np.concatenate([p[i] for p in parts]) if parts else np.empty(0, dtype=np.int64) for i in range(6)]
    session, unit, group, bins, spike_count, n_events = columns
    keys = ["session_id", "unit_id", *by]
    frame = pl.DataFrame({
        "session_id": pl.Series(sessions, dtype=pl.String).gather(session),
        "unit_id": pl.Series(all_units, dtype=pl.String).gather(unit),
        **{c: groups[c].gather(group) for c in by},
        "bin_index": bins.astype(np.int64), "spike_count": spike_count.astype(np.int64),
        "n_events": n_events.astype(np.int64),
    })
    return (frame.with_columns(bin_start=start + pl.col("bin_index") * bin_size)
            .select(*keys, "bin_index", "bin_start", "spike_count", "n_events")
            .sort([*keys, "bin_index"]))
