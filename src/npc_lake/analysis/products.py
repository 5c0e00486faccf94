"""A session's analysis tables (:mod:`npc_lake.schema.analysis`), accumulated while its spikes stream past.

:class:`SessionProducts` is set up from the session's units, electrodes, trials and intervals, fed every
spike batch once (ingest feeds it the batches it checks anyway, so no extra read of the source), and then
returns one frame per analysis table. Counting around events is the counting of :func:`npc_lake.analysis.psth`,
so the stored rates agree with a PSTH of the same window.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import polars as pl

from npc_lake.analysis.alignment import count_runs, find_runs
from npc_lake.analysis.stats import half_rise_latency, signed_rank_p
from npc_lake.schema.analysis import (
    ANALYSIS_TABLES,
    BASELINE_WINDOW,
    DRIFT_DEPTH_BIN_UM,
    DRIFT_MAPS,
    DRIFT_TIME_BIN_S,
    HISTOGRAM_BIN_S,
    RESPONSE_ALPHA,
    RESPONSE_WINDOW,
    RF_MAPS,
    SPIKE_HISTOGRAMS,
    UNIT_RESPONSES,
)

Array = np.ndarray[Any, Any]
TASK_STIMULI = ("vis1", "vis2", "sound1", "sound2")
LATENCY_BIN_S = 0.001
#: Names of the RF-mapping intervals tables (current DR, before 2024-04, and the 2022 pilot).
VIS_RF_TABLES = ("VisRFMapping", "vis_rf_mapping_trials", "vis_mapping_trials")
AUD_RF_TABLES = ("AudRFMapping", "aud_rf_mapping_trials", "aud_mapping_trials")
#: Per-trial windows: bin 0 is the baseline window, bin 1 the response window (they are adjacent and equal).
_TRIAL_WINDOW = (BASELINE_WINDOW[0], RESPONSE_WINDOW[1])
_WINDOW_S = RESPONSE_WINDOW[1] - RESPONSE_WINDOW[0]
assert math.isclose(BASELINE_WINDOW[1], RESPONSE_WINDOW[0]) and math.isclose(_WINDOW_S, -BASELINE_WINDOW[0])


def _onsets(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.filter(pl.col("stim_start_time").is_not_null() & pl.col("stim_start_time").is_not_nan())


def _rf_conditions(intervals: pl.DataFrame) -> pl.DataFrame:
    """Every RF-mapping presentation with its map, condition and onset (``event_time``)."""
    parts = []
    vis = _onsets(intervals.filter(pl.col("interval_name").is_in(VIS_RF_TABLES)))
    if vis.height and {"grating_x", "grating_y"} <= set(vis.columns):
        gratings = vis.filter(pl.col("grating_x").is_not_null() & pl.col("grating_x").is_not_nan()
                              & pl.col("grating_y").is_not_null() & pl.col("grating_y").is_not_nan())
        parts.append(gratings.select(map_name=pl.lit("grating_position"), grating_x="grating_x",
                                     grating_y="grating_y", freq=pl.lit(None, dtype=pl.Float64),
                                     event_time="stim_start_time"))
    aud = _onsets(intervals.filter(pl.col("interval_name").is_in(AUD_RF_TABLES)))
    am_column = next((c for c in ("is_AM_noise", "is_am_noise") if c in aud.columns), None)
    for map_name, flag in (("tone", "is_pure_tone"), ("am_noise", am_column)):
        if aud.height and flag in aud.columns and "freq" in aud.columns:
            chosen = aud.filter(pl.col(flag).fill_null(False) & pl.col("freq").is_not_null()
                                & pl.col("freq").is_not_nan())
            parts.append(chosen.select(map_name=pl.lit(map_name), grating_x=pl.lit(None, dtype=pl.Float64),
                                       grating_y=pl.lit(None, dtype=pl.Float64), freq="freq",
                                       event_time="stim_start_time"))
    if not parts:
        return pl.DataFrame(schema={"map_name": pl.String, "grating_x": pl.Float64, "grating_y": pl.Float64,
                                    "freq": pl.Float64, "event_time": pl.Float64, "condition_index": pl.Int32,
                                    "_group": pl.Int64})
    presented = pl.concat([p.cast({"grating_x": pl.Float64, "grating_y": pl.Float64, "freq": pl.Float64})
                           for p in parts])
    conditions = (presented.select("map_name", "grating_x", "grating_y", "freq").unique()
                  .sort("map_name", "grating_x", "grating_y", "freq")
                  .with_columns(condition_index=pl.int_range(pl.len()).over("map_name").cast(pl.Int32),
                                _group=pl.int_range(pl.len(), dtype=pl.Int64)))
    return presented.join(conditions, on=["map_name", "grating_x", "grating_y", "freq"], how="left",
                          nulls_equal=True).sort("event_time")


class _Grid:
    """Spike counts (and sums of a weight) per (time bin, cell), for times not known in advance: grows as needed."""

    def __init__(self, n_cells: int, bin_size: float) -> None:
        self.n_cells, self.bin_size = max(n_cells, 1), bin_size
        self.origin = 0
        self.counts: Array = np.zeros((0, self.n_cells), dtype=np.int64)
        self.sums: Array = np.zeros((0, self.n_cells))
        self.unweighed: Array = np.zeros((0, self.n_cells), dtype=np.int64)  # spikes whose weight is NaN

    def add(self, cell_of_code: Array, codes: Array, times: Array, weights: Array | None = None) -> None:
        """Add spikes at ``times`` to the cells ``cell_of_code[codes]`` (cells < 0 are left out)."""
        cells = cell_of_code[codes]
        if (cell_of_code < 0).any():
            kept = cells >= 0
            cells, times = cells[kept], times[kept]
            weights = weights[kept] if weights is not None else None
        if cells.size == 0:
            return
        bins = np.floor(times / self.bin_size).astype(np.int64)
        low, high = int(bins.min()), int(bins.max())
        if self.counts.shape[0] == 0:
            self.origin = low
        if low < self.origin or high - self.origin >= self.counts.shape[0]:
            start, stop = min(low, self.origin), max(high + 1, self.origin + self.counts.shape[0])
            pad = ((self.origin - start, stop - self.origin - self.counts.shape[0]), (0, 0))
            self.counts, self.sums, self.unweighed = (np.pad(a, pad) for a in (self.counts, self.sums,
                                                                                self.unweighed))
            self.origin = start
        flat = (bins - self.origin) * self.n_cells + cells
        size = self.counts.size
        self.counts += np.bincount(flat, minlength=size).reshape(self.counts.shape)
        if weights is not None:
            missing = np.isnan(weights)
            if missing.any():
                self.unweighed += np.bincount(flat[missing], minlength=size).reshape(self.counts.shape)
                weights = np.where(missing, 0.0, weights)
            self.sums += np.bincount(flat, weights=weights, minlength=size).reshape(self.counts.shape)


class SessionProducts:
    """Accumulates one session's spikes into its analysis tables.

    Parameters
    ----------
    session_id
        The session.
    units, electrodes, trials, intervals
        The session's rows of those tables (conformed); trials and intervals may be empty.
    """

    def __init__(self, session_id: str, *, units: pl.DataFrame, electrodes: pl.DataFrame, trials: pl.DataFrame,
                 intervals: pl.DataFrame) -> None:
        self.session_id = session_id
        self.unit_ids: list[str] = units["unit_id"].to_list()
        self._row_of = {unit_id: row for row, unit_id in enumerate(self.unit_ids)}
        n_units = len(self.unit_ids)
        task = _onsets(trials.filter(pl.col("stim_name").is_in(TASK_STIMULI))).sort("stim_start_time")
        self._trial_onsets = task["stim_start_time"].to_numpy()
        self._trial_stim = np.array([TASK_STIMULI.index(s) for s in task["stim_name"].to_list()], dtype=np.int64)
        self._trial_counts = np.zeros((n_units, self._trial_onsets.size, 2), dtype=np.int64)
        self._latency_bins = round(_WINDOW_S / LATENCY_BIN_S)
        self._latency_counts = np.zeros((n_units, len(TASK_STIMULI), self._latency_bins), dtype=np.int64)
        self._rf = _rf_conditions(intervals)
        self._rf_onsets = self._rf["event_time"].to_numpy()
        self._rf_event_group = self._rf["_group"].to_numpy()
        n_conditions = int(self._rf_event_group.max(initial=-1)) + 1
        self._rf_counts = np.zeros((n_units, n_conditions, 2), dtype=np.int64)
        probes = units["electrode_group_name"].to_list()  # units without one are left out of the per-probe tables
        self.probe_names: list[str] = sorted({p for p in probes if p})
        probe = np.array([self.probe_names.index(p) if p else -1 for p in probes], dtype=np.int64)
        qc = units["default_qc"].fill_null(False).to_numpy().astype(np.int64)
        depth = units.select("electrode_group_name", "peak_channel").join(
            electrodes.select("electrode_group_name", pl.col("channel").alias("peak_channel"), "rel_y"),
            on=["electrode_group_name", "peak_channel"], how="left", maintain_order="left")["rel_y"]
        depth_bin = np.floor(depth.cast(pl.Float64).fill_null(np.nan).to_numpy() / DRIFT_DEPTH_BIN_UM)
        depth_bin = np.where(np.isfinite(depth_bin) & (depth_bin >= 0), depth_bin, -1).astype(np.int64)
        self._n_depths = max(int(depth_bin.max(initial=-1)) + 1, 1)
        # the cell of each unit: (probe, QC flag) in the histograms, (probe, depth bin) in the drift maps
        self._histogram_cell = np.where(probe >= 0, probe * 2 + qc, -1)
        self._drift_cell = np.where((depth_bin >= 0) & (probe >= 0), probe * self._n_depths + depth_bin, -1)
        self._histogram = _Grid(len(self.probe_names) * 2, HISTOGRAM_BIN_S)
        self._drift = _Grid(len(self.probe_names) * self._n_depths, DRIFT_TIME_BIN_S)

    def add_batch(self, batch: pl.DataFrame) -> None:
        """Add a spike_times batch (``unit_id``, ``spike_time``, optional ``amplitude``) of this session."""
        if batch.height == 0:
            return
        runs = batch["unit_id"].rle()
        lengths = runs.struct.field("len").to_numpy()
        rows = np.array([self._row_of.get(u, -1) for u in runs.struct.field("value").to_list()], dtype=np.int64)
        codes = np.repeat(np.arange(rows.size, dtype=np.int64), lengths)
        amplitude = (batch["amplitude"].cast(pl.Float64).fill_null(np.nan).to_numpy() if "amplitude" in batch.columns
                     else None)
        self.add(codes, batch["spike_time"].to_numpy(), rows, amplitude)

    def add(self, codes: Array, times: Array, code_to_row: Array, amplitude: Array | None = None) -> None:
        """Add spikes: ``times`` of units ``code_to_row[codes]`` (rows of the units frame; -1 unknown)."""
        runs = find_runs(codes, times)
        count_runs(runs, code_to_row, self._trial_onsets, np.arange(self._trial_onsets.size), window=_TRIAL_WINDOW,
                   bin_size=_WINDOW_S, counts=self._trial_counts)
        count_runs(runs, code_to_row, self._trial_onsets, self._trial_stim, window=RESPONSE_WINDOW,
                   bin_size=LATENCY_BIN_S, counts=self._latency_counts)
        count_runs(runs, code_to_row, self._rf_onsets, self._rf_event_group, window=_TRIAL_WINDOW, bin_size=_WINDOW_S,
                   counts=self._rf_counts)
        known = code_to_row >= 0
        row = np.where(known, code_to_row, 0)
        self._histogram.add(np.where(known, self._histogram_cell[row], -1), codes, times)
        self._drift.add(np.where(known, self._drift_cell[row], -1), codes, times, amplitude)

    def frames(self) -> dict[str, pl.DataFrame]:
        """One frame per analysis table (possibly empty)."""
        return {UNIT_RESPONSES.name: self._unit_responses(), RF_MAPS.name: self._rf_maps(),
                SPIKE_HISTOGRAMS.name: self._spike_histograms(), DRIFT_MAPS.name: self._drift_maps()}

    def _unit_responses(self) -> pl.DataFrame:
        parts = []
        n_units = len(self.unit_ids)
        for stim_index, stim_name in enumerate(TASK_STIMULI):
            trials = np.flatnonzero(self._trial_stim == stim_index)
            if trials.size == 0 or n_units == 0:
                continue
            baseline = self._trial_counts[:, trials, 0]
            response = self._trial_counts[:, trials, 1]
            base_rate = baseline.mean(axis=1) / _WINDOW_S
            resp_rate = response.mean(axis=1) / _WINDOW_S
            p_value = np.asarray(signed_rank_p(response - baseline)).reshape(n_units)
            responsive = (p_value < RESPONSE_ALPHA) & (resp_rate > base_rate)
            latency = np.full(n_units, np.nan)
            for row in np.flatnonzero(responsive):
                rate = self._latency_counts[row, stim_index] / (trials.size * LATENCY_BIN_S)
                latency[row] = RESPONSE_WINDOW[0] + half_rise_latency(rate, baseline=float(base_rate[row]),
                                                                      bin_size=LATENCY_BIN_S)
            total = base_rate + resp_rate
            index = np.divide(resp_rate - base_rate, total, out=np.full(n_units, np.nan), where=total > 0)
            parts.append(pl.DataFrame({
                "session_id": self.session_id, "unit_id": self.unit_ids, "stim_name": stim_name,
                "n_trials": trials.size, "baseline_rate": base_rate, "response_rate": resp_rate,
                "response_index": index, "p_value": p_value, "is_responsive": responsive, "latency": latency,
            }, schema_overrides=dict(UNIT_RESPONSES.polars_schema.items())))
        if not parts:
            return pl.DataFrame(schema=UNIT_RESPONSES.polars_schema)
        return pl.concat(parts).select(UNIT_RESPONSES.column_names)

    def _rf_maps(self) -> pl.DataFrame:
        if self._rf.height == 0 or not self.unit_ids:
            return pl.DataFrame(schema=RF_MAPS.polars_schema)
        conditions = (self._rf.group_by("map_name", "condition_index", "grating_x", "grating_y", "freq")
                      .agg(n_trials=pl.len(), _group=pl.first("_group")).sort("_group"))
        n_conditions, n_units = conditions.height, len(self.unit_ids)
        group = conditions["_group"].to_numpy()
        n_trials = conditions["n_trials"].to_numpy()
        sums = self._rf_counts[:, group, :]  # (unit, condition, window)
        frame = conditions.drop("_group").select(pl.all().gather(np.tile(np.arange(n_conditions), n_units)))
        return frame.with_columns(
            session_id=pl.lit(self.session_id), unit_id=pl.Series(self.unit_ids).gather(
                np.repeat(np.arange(n_units), n_conditions)),
            baseline_rate=pl.Series((sums[:, :, 0] / n_trials / _WINDOW_S).ravel()),
            response_rate=pl.Series((sums[:, :, 1] / n_trials / _WINDOW_S).ravel()),
        ).select(RF_MAPS.column_names).cast(dict(RF_MAPS.polars_schema.items()))

    def _spike_histograms(self) -> pl.DataFrame:
        grid = self._histogram
        n_bins, n_probes = grid.counts.shape[0], len(self.probe_names)
        if n_bins == 0 or n_probes == 0:
            return pl.DataFrame(schema=SPIKE_HISTOGRAMS.polars_schema)
        by_qc = grid.counts.reshape(n_bins, n_probes, 2).transpose(1, 0, 2)  # (probe, bin, [not QC, QC])
        return pl.DataFrame({
            "session_id": self.session_id,
            "electrode_group_name": np.repeat(np.array(self.probe_names, dtype=object), n_bins),
            "bin_start_time": np.tile((grid.origin + np.arange(n_bins)) * HISTOGRAM_BIN_S, n_probes),
            "bin_size": HISTOGRAM_BIN_S, "spike_count": by_qc.sum(axis=2).ravel(),
            "qc_spike_count": by_qc[:, :, 1].ravel(),
        }, schema_overrides=dict(SPIKE_HISTOGRAMS.polars_schema.items())).select(SPIKE_HISTOGRAMS.column_names)

    def _drift_maps(self) -> pl.DataFrame:
        grid = self._drift
        time_bin, cell = np.nonzero(grid.counts)
        if cell.size == 0:
            return pl.DataFrame(schema=DRIFT_MAPS.polars_schema)
        counts = grid.counts[time_bin, cell]
        measured = counts - grid.unweighed[time_bin, cell]
        mean = np.divide(grid.sums[time_bin, cell], measured, out=np.full(counts.size, np.nan), where=measured > 0)
        probe, depth = np.divmod(cell, self._n_depths)
        return pl.DataFrame({
            "session_id": self.session_id,
            "electrode_group_name": np.array(self.probe_names, dtype=object)[probe],
            "bin_start_time": (time_bin + grid.origin) * DRIFT_TIME_BIN_S,
            "depth": depth * DRIFT_DEPTH_BIN_UM, "spike_count": counts, "mean_amplitude": mean,
        }, schema_overrides=dict(DRIFT_MAPS.polars_schema.items())).select(DRIFT_MAPS.column_names).sort(
            list(DRIFT_MAPS.sort_by))


__all__ = ["ANALYSIS_TABLES", "SessionProducts"]
