"""Quick-look figures of the lake: PSTH, raster, behaviour per block, units on the CCF. The only module that
imports matplotlib (``pip install "npc-lake[plot]"``); figures are built without pyplot, so no display is needed.

Every function takes a *target*: a session id of the lake, or a read-only SQL query whose rows name what to
show: ``session_id`` (those sessions), plus ``unit_id`` for the functions that show units (those units).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from npc_lake.analysis import block_performance, psth
from npc_lake.errors import NpcLakeError
from npc_lake.lake import Lake

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

LakeLike = Lake | str | os.PathLike[str] | None
_QUERY = re.compile(r"^\s*(WITH|SELECT|FROM)\b", re.IGNORECASE)
CONTEXT_COLOURS = {"vis": "tab:green", "aud": "tab:purple", "sound": "tab:purple"}
PLOT_KINDS = ("psth", "raster", "performance", "units-map")


def _figure(width: float = 7.0, height: float = 4.5) -> Figure:
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise NpcLakeError('plotting needs matplotlib: pip install "npc-lake[plot]"') from None
    return Figure(figsize=(width, height), layout="constrained")


def resolve_target(target: str, *, lake: LakeLike = None) -> tuple[list[str], pl.DataFrame | None]:
    """The sessions a target names, and its units frame (session_id, unit_id) when a query returns units."""
    handle = Lake.open(lake)
    if _QUERY.match(target):
        from npc_lake.query.duckdb import run_sql

        rows = run_sql(target, lake=handle)
        if "session_id" not in rows.columns:
            raise NpcLakeError("the query must return a session_id column")
        sessions = rows["session_id"].unique(maintain_order=True).to_list()
        units = rows.select("session_id", "unit_id").unique(maintain_order=True) if "unit_id" in rows.columns else None
        return sessions, units
    known = handle.scan("sessions").filter(pl.col("session_id") == target).select("session_id").collect()
    if known.height == 0:
        raise NpcLakeError(f"{target!r} is neither a session of the lake nor a SQL query")
    return [target], None


def _units(sessions: list[str], units: pl.DataFrame | None, handle: Lake, structure: str | None) -> pl.DataFrame:
    if units is not None:
        return units
    chosen = handle.scan("units").filter(pl.col("session_id").is_in(sessions) & pl.col("default_qc"))
    if structure:
        chosen = chosen.filter(pl.col("structure") == structure)
    return chosen.select("session_id", "unit_id", "structure", "default_qc").collect()


def _stim_events(handle: Lake, sessions: list[str], stim: str, by: str | None) -> pl.DataFrame:
    columns = ["session_id", pl.col("stim_start_time").alias("event_time"), *([by] if by else [])]
    return (handle.scan("trials").filter(pl.col("session_id").is_in(sessions) & (pl.col("stim_name") == stim))
            .select(columns).collect())


def plot_psth(target: str, *, lake: LakeLike = None, stim: str = "vis1", by: str | None = "rewarded_modality",
              structure: str | None = None, window: tuple[float, float] = (-0.25, 0.5),
              bin_size: float = 0.01) -> Figure:
    """Mean firing rate of the target's units (default: QC-passing units) around ``stim`` onsets, per ``by`` group.

    Returns
    -------
    matplotlib.figure.Figure
        One line per group, the mean over units with a band of ± 1 SEM.
    """
    handle = Lake.open(lake)
    sessions, units = resolve_target(target, lake=handle)
    units = _units(sessions, units, handle, structure)
    events = _stim_events(handle, sessions, stim, by)
    if units.height == 0 or events.height == 0:
        raise NpcLakeError(f"nothing to plot: {units.height} units, {events.height} {stim} trials")
    counts = psth(units, events, lake=handle, window=window, bin_size=bin_size, by=(by,) if by else ())
    rates = counts.with_columns(rate=pl.col("spike_count") / pl.col("n_events") / bin_size)
    keys = [by] if by else []
    summary = (rates.group_by(*keys, "bin_start").agg(mean=pl.col("rate").mean(), sem=pl.col("rate").std()
                                                      / pl.len().sqrt(), n_units=pl.len())
               .sort(*keys, "bin_start"))
    figure = _figure()
    ax = figure.subplots()
    groups = summary.partition_by(by, as_dict=True, maintain_order=True) if by else {("all",): summary}
    for (group,), rows in groups.items():
        centre = rows["bin_start"].to_numpy() + bin_size / 2
        mean, sem = rows["mean"].to_numpy(), np.nan_to_num(rows["sem"].to_numpy())
        colour = CONTEXT_COLOURS.get(str(group))
        ax.plot(centre, mean, color=colour, label=f"{by} = {group}" if by else "all trials")
        ax.fill_between(centre, mean - sem, mean + sem, color=colour, alpha=0.25, linewidth=0)
    ax.axvline(0.0, color="0.4", linewidth=0.8, linestyle="--")
    ax.set(xlabel=f"time from {stim} onset (s)", ylabel="firing rate (spikes/s)",
           title=f"{units.height} units{' in ' + structure if structure else ''}, {len(sessions)} session(s)")
    ax.legend(frameon=False)
    return figure


def plot_raster(target: str, *, lake: LakeLike = None, unit_id: str | None = None, stim: str = "vis1",
                window: tuple[float, float] = (-0.25, 0.5)) -> Figure:
    """Spikes of one unit around every ``stim`` onset, trials grouped by rewarded modality.

    Without ``unit_id`` (and without a query returning one), the unit of the target's first session that
    responds most strongly to ``stim`` (``unit_responses``) is shown.
    """
    handle = Lake.open(lake)
    sessions, units = resolve_target(target, lake=handle)
    if unit_id is None and units is not None and units.height:
        unit_id = units["unit_id"][0]
    if unit_id is None:
        best = (handle.scan("unit_responses").filter((pl.col("session_id") == sessions[0])
                                                     & (pl.col("stim_name") == stim))
                .sort("p_value", "response_index", descending=[False, True]).head(1).collect())
        if best.height == 0:
            raise NpcLakeError(f"no unit_responses of {stim} in {sessions[0]}; name a unit with --unit")
        unit_id = best["unit_id"][0]
    unit = handle.scan("units").filter(pl.col("unit_id") == unit_id).select("session_id", "structure").collect()
    if unit.height == 0:
        raise NpcLakeError(f"no unit {unit_id!r} in the lake")
    session_id = unit["session_id"][0]
    trials = (_stim_events(handle, [session_id], stim, "rewarded_modality")
              .sort("rewarded_modality", "event_time"))
    spikes = (handle.scan("spike_times").filter((pl.col("session_id") == session_id) & (pl.col("unit_id") == unit_id))
              .select("spike_time").collect()["spike_time"].to_numpy())
    figure = _figure(6.0, 5.0)
    ax = figure.subplots()
    for row, (onset, context) in enumerate(trials.select("event_time", "rewarded_modality").iter_rows()):
        lo, hi = np.searchsorted(spikes, [onset + window[0], onset + window[1]])
        ax.vlines(spikes[lo:hi] - onset, row + 0.1, row + 0.9, color=CONTEXT_COLOURS.get(context, "k"),
                  linewidth=0.8)
    ax.axvline(0.0, color="0.4", linewidth=0.8, linestyle="--")
    ax.set(xlim=window, ylim=(0, max(1, trials.height)), xlabel=f"time from {stim} onset (s)",
           ylabel="trial (grouped by rewarded modality)", title=f"{unit_id} ({unit['structure'][0]})")
    return figure


def plot_performance(target: str, *, lake: LakeLike = None) -> Figure:
    """Hit rate, false-alarm rate and cross-modal d' per block, recomputed from the target sessions' trials."""
    handle = Lake.open(lake)
    sessions, _ = resolve_target(target, lake=handle)
    trials = handle.scan("trials").filter(pl.col("session_id").is_in(sessions)).collect()
    if trials.height == 0:
        raise NpcLakeError("the target sessions have no trials")
    blocks = block_performance(trials)
    figure = _figure(7.0, 5.0)
    rates_ax, dprime_ax = figure.subplots(2, 1, sharex=True)
    for (session_id,), rows in blocks.partition_by("session_id", as_dict=True, maintain_order=True).items():
        x = rows["block_index"].to_numpy()
        _context_shading(rates_ax, x, rows["rewarded_modality"].to_list())
        rates_ax.plot(x, rows["hit_rate"].to_numpy(), "o-", color="k", alpha=0.8, label="hit rate")
        rates_ax.plot(x, rows["false_alarm_rate"].to_numpy(), "s--", color="tab:red", alpha=0.8,
                      label="false-alarm rate (other modality's target)")
        dprime_ax.plot(x, rows["cross_modality_dprime"].to_numpy(), "o-", alpha=0.8, label=session_id)
    handles, labels = rates_ax.get_legend_handles_labels()
    rates_ax.legend(handles[:2], labels[:2], frameon=False, fontsize="small")
    rates_ax.set(ylim=(-0.02, 1.02), ylabel="response rate", title=f"performance per block, {len(sessions)} session(s)")
    dprime_ax.axhline(0.0, color="0.4", linewidth=0.8)
    dprime_ax.set(xlabel="block (green: visual rewarded, purple: auditory rewarded)", ylabel="cross-modal d'")
    return figure


def plt_colour(index: int) -> Any:
    """Colour ``index`` of matplotlib's 20-colour qualitative map (cycled)."""
    from matplotlib import colormaps

    return colormaps["tab20"](index % 20)


def _context_shading(ax: Axes, blocks: Any, contexts: list[str]) -> None:
    for block, context in zip(blocks, contexts, strict=True):
        ax.axvspan(block - 0.5, block + 0.5, color=CONTEXT_COLOURS.get(context, "0.8"), alpha=0.08, linewidth=0)


def plot_units_map(target: str, *, lake: LakeLike = None, stim: str | None = None) -> Figure:
    """Units of the target on the CCF (top and side views), coloured by structure; with ``stim``, the units
    that respond to it (``unit_responses``) are drawn filled and the rest as outlines."""
    handle = Lake.open(lake)
    sessions, units = resolve_target(target, lake=handle)
    chosen = handle.scan("units").filter(pl.col("session_id").is_in(sessions))
    if units is not None:
        chosen = chosen.join(units.lazy(), on=["session_id", "unit_id"], how="semi")
    frame = chosen.select("session_id", "unit_id", "structure", "x", "y", "z").drop_nulls(["x", "y", "z"]).collect()
    if frame.height == 0:
        raise NpcLakeError("no units with CCF coordinates in the target")
    if stim:
        responsive = (handle.scan("unit_responses").filter(pl.col("stim_name") == stim)
                      .select("unit_id", "is_responsive").collect())
        frame = frame.join(responsive, on="unit_id", how="left").with_columns(pl.col("is_responsive").fill_null(False))
    figure = _figure(10.0, 4.5)
    top, side = figure.subplots(1, 2)
    structures = frame["structure"].fill_null("?").value_counts(sort=True)["structure"].to_list()
    palette = [plt_colour(i) for i in range(len(structures))]
    for colour, structure in zip(palette, structures, strict=True):
        rows = frame.filter(pl.col("structure").fill_null("?") == structure)
        filled = rows["is_responsive"].to_numpy() if stim else np.ones(rows.height, dtype=bool)
        for ax, (a, b) in ((top, ("z", "x")), (side, ("x", "y"))):
            ax.scatter(rows[a].to_numpy()[filled], rows[b].to_numpy()[filled], s=9, color=colour,
                       label=structure if ax is top else None)
            ax.scatter(rows[a].to_numpy()[~filled], rows[b].to_numpy()[~filled], s=9, facecolors="none",
                       edgecolors=colour, linewidths=0.6)
    top.set(xlabel="z: medial-lateral (µm)", ylabel="x: anterior-posterior (µm)", title="top view")
    side.set(xlabel="x: anterior-posterior (µm)", ylabel="y: dorsal-ventral (µm)", title="side view")
    side.invert_yaxis()
    top.legend(fontsize="x-small", frameon=False, ncols=2, markerscale=1.5)
    figure.suptitle(f"{frame.height} units, {len(sessions)} session(s)"
                    + (f"; filled: responsive to {stim}" if stim else ""))
    return figure


def save_figure(figure: Figure, path: str | os.PathLike[str], *, dpi: int = 120) -> Path:
    """Write ``figure`` to ``path`` (format from the suffix, e.g. ``.png``) and return the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(target, dpi=dpi)
    return target


__all__ = ["PLOT_KINDS", "plot_performance", "plot_psth", "plot_raster", "plot_units_map", "resolve_target",
           "save_figure"]
