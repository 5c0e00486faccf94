"""The peers' answers, straight from the NWB files: the pynwb loop a scientist writes today, and lazynwb.

pynwb opens each file with NWBHDF5IO and reads what the question needs (heavy columns excluded from
``to_dataframe``, spike trains read per unit): the careful version of the idiomatic loop. lazynwb scans a
table across all files as one Polars LazyFrame. Session ids are the file names' stems (the synthetic
corpus names each file after its session).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from questions import (
    AREA,
    BIN_SIZE,
    METRICS,
    MIN_UNITS,
    N_BINS,
    SLACK,
    STIMULUS,
    VISUAL_PREFIX,
    WINDOW_START,
    WINDOW_STOP,
    performance,
    psth,
    summarise_session,
)

HEAVY = {"spike_times", "spike_amplitudes", "waveform_mean", "waveform_sd", "obs_intervals", "electrodes"}


def psth_counts(spikes: np.ndarray[Any, Any], onsets: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Spike counts per bin of one unit, summed over ``onsets`` (the binning every engine uses)."""
    counts = np.zeros(N_BINS, dtype=np.int64)
    for onset in onsets:
        lo = np.searchsorted(spikes, onset + (WINDOW_START - SLACK), side="left")
        hi = np.searchsorted(spikes, onset + (WINDOW_STOP + SLACK), side="left")
        t = spikes[lo:hi] - onset
        t = t[(t >= WINDOW_START) & (t < WINDOW_STOP)]
        bins = np.floor((t - WINDOW_START) / BIN_SIZE).astype(np.int64)
        counts += np.bincount(bins[(bins >= 0) & (bins < N_BINS)], minlength=N_BINS)
    return counts


class PynwbEngine:
    """One NWBHDF5IO per file per question."""

    def __init__(self, nwb_folder: str, session_id: str) -> None:
        import pynwb

        self.pynwb = pynwb
        self.files = sorted(Path(nwb_folder).glob("*.nwb"))
        self.session_file = Path(nwb_folder) / f"{session_id}.nwb"

    def _each(self) -> Any:
        for path in self.files:
            with self.pynwb.NWBHDF5IO(str(path), "r") as io:
                yield path.stem, io.read()

    @staticmethod
    def _units(nwb: Any) -> Any:
        units = nwb.units.to_dataframe(exclude=HEAVY & set(nwb.units.colnames))
        units["row"] = np.arange(len(units))  # position in the table, for ragged columns
        return units

    def _qc_area(self, nwb: Any) -> Any:
        units = self._units(nwb)
        return units[units["default_qc"] & (units["structure"] == AREA)]

    def answer(self, question: str) -> pl.DataFrame:
        return getattr(self, question)()

    def q1(self) -> pl.DataFrame:
        parts = []
        for session_id, nwb in self._each():
            units = self._units(nwb)
            units = units[units["default_qc"] & units["structure"].str.startswith(VISUAL_PREFIX)]
            parts.append(pl.from_pandas(units[["unit_id", "structure", *METRICS]].reset_index(drop=True))
                         .with_columns(session_id=pl.lit(session_id)))
        return pl.concat(parts)

    def q2(self) -> pl.DataFrame:
        parts = []
        for session_id, nwb in self._each():
            spike_times = nwb.units["spike_times"]
            units = self._qc_area(nwb)
            for row, unit_id in zip(units["row"], units["unit_id"], strict=True):
                spikes = np.asarray(spike_times[row])
                parts.append(pl.DataFrame({"session_id": session_id, "unit_id": unit_id, "spike_time": spikes}))
        return pl.concat(parts)

    def q3(self) -> pl.DataFrame:
        parts = []
        for session_id, nwb in self._each():
            trials = nwb.trials.to_dataframe()
            trials = trials[trials["stim_name"] == STIMULUS]
            spike_times = nwb.units["spike_times"]
            units = self._qc_area(nwb)
            for row, unit_id in zip(units["row"], units["unit_id"], strict=True):
                spikes = np.asarray(spike_times[row])
                for context, group in trials.groupby("rewarded_modality"):
                    counts = psth_counts(spikes, group["stim_start_time"].to_numpy())
                    nonzero = np.flatnonzero(counts)
                    parts.append(pl.DataFrame({"session_id": session_id, "unit_id": unit_id,
                                               "rewarded_modality": context, "bin_index": nonzero,
                                               "spike_count": counts[nonzero]}))
        return pl.concat(parts)

    def q4(self) -> pl.DataFrame:
        parts = []
        for session_id, nwb in self._each():
            trials = nwb.trials.to_dataframe()
            for (block, context), group in trials.groupby(["block_index", "rewarded_modality"]):
                go, nogo = int(group["is_go"].sum()), int(group["is_nogo"].sum())
                parts.append({"session_id": session_id, "block_index": block, "rewarded_modality": context,
                              "hit_rate": int(group["is_hit"].sum()) / go if go else None,
                              "false_alarm_rate": int(group["is_false_alarm"].sum()) / nogo if nogo else None})
        return pl.DataFrame(parts, schema_overrides={"hit_rate": pl.Float64, "false_alarm_rate": pl.Float64})

    def q5(self) -> pl.DataFrame:
        rows = []
        for session_id, nwb in self._each():
            n_units = len(self._qc_area(nwb))
            if n_units >= MIN_UNITS:
                rows.append({"session_id": session_id, "n_units": n_units, "n_trials": len(nwb.trials)})
        return pl.DataFrame(rows, schema={"session_id": pl.String, "n_units": pl.Int64, "n_trials": pl.Int64})

    def q6(self) -> pl.DataFrame:
        with self.pynwb.NWBHDF5IO(str(self.session_file), "r") as io:
            nwb = io.read()
            units = nwb.units.to_dataframe()
            trials = nwb.trials.to_dataframe()
            electrodes = nwb.electrodes.to_dataframe()
        spikes = pl.Series(np.concatenate([np.asarray(s) for s in units["spike_times"]]))
        return summarise_session(pl.DataFrame({"n": range(len(units))}), spikes,
                                 pl.DataFrame({"n": range(len(trials))}), pl.DataFrame({"n": range(len(electrodes))}))


class LazynwbEngine:
    """lazynwb's Polars scans across every file (runs in lazynwb's own virtual environment)."""

    def __init__(self, nwb_folder: str, session_id: str) -> None:
        import lazynwb

        self.lazynwb = lazynwb
        self.files = [str(p) for p in sorted(Path(nwb_folder).glob("*.nwb"))]
        self.session_file = str(Path(nwb_folder) / f"{session_id}.nwb")

    def _scan(self, table: str, files: list[str] | None = None) -> pl.LazyFrame:
        frame = self.lazynwb.scan_nwb(files or self.files, table, disable_progress=True)
        return frame.with_columns(
            session_id=pl.col("_nwb_path").str.split("/").list.last().str.strip_suffix(".nwb"))

    def _qc_area_spikes(self) -> pl.LazyFrame:
        return (self._scan("/units").filter(pl.col("default_qc") & (pl.col("structure") == AREA))
                .select("session_id", "unit_id", "spike_times").explode("spike_times")
                .rename({"spike_times": "spike_time"}).drop_nulls("spike_time"))

    def answer(self, question: str) -> pl.DataFrame:
        if question == "q1":
            return (self._scan("/units").filter(pl.col("default_qc")
                                                & pl.col("structure").str.starts_with(VISUAL_PREFIX))
                    .select("session_id", "unit_id", "structure", *METRICS).collect())
        if question == "q2":
            return self._qc_area_spikes().collect()
        if question == "q3":
            return psth(self._qc_area_spikes(), self._scan("/intervals/trials")).collect()
        if question == "q4":
            return performance(self._scan("/intervals/trials")).collect()
        if question == "q5":
            counts = (self._scan("/units").filter(pl.col("default_qc") & (pl.col("structure") == AREA))
                      .group_by("session_id").agg(pl.len().alias("n_units"))
                      .filter(pl.col("n_units") >= MIN_UNITS))
            n_trials = self._scan("/intervals/trials").group_by("session_id").agg(pl.len().alias("n_trials"))
            return counts.join(n_trials, on="session_id").collect()
        one = [self.session_file]
        units = self._scan("/units", one).collect()
        trials = self._scan("/intervals/trials", one).collect()
        electrodes = self._scan("/general/extracellular_ephys/electrodes", one).collect()
        spikes = units["spike_times"].explode().drop_nulls()
        return summarise_session(units, spikes, trials, electrodes)


ENGINES = {"pynwb": PynwbEngine, "lazynwb": LazynwbEngine}
