"""A DR session's probes to lake rows: devices, electrode groups, electrodes, units and spike times.

Each probe ``X`` contributes the device and electrode group ``probeX``, one electrode per channel of its
sorted output (``electrode_id = probe position * 384 + channel``; probe coordinates from
``channel_positions.npy``; CCF coordinates and areas from the probe's channel table when there is one:
``Probe_X*_channels_*.csv`` with ``channel``, ``AP``, ``DV``, ``ML`` in 25 µm voxels (negative: not in the
brain), ``region`` and ``region_stripped``), and one unit per cluster: ``unit_id`` is
``<session_id>_X-<cluster_id>``, ``nwb_unit_id`` its position in (probe, cluster id) order, its place is
its peak channel's, its metrics are the sorter's. Where the
metrics do not give ``default_qc`` it is ``isi_violations_ratio <= 0.5``, ``amplitude_cutoff <= 0.1``,
``presence_ratio >= 0.7`` and not labelled noise.

Spike sample numbers count from the first sample of the probe's AP stream; the probe's clock fit puts
them on the sync clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from npc_lake.errors import SourceError
from npc_lake.schema.ephys import UNITS
from npc_lake.sources.kilosort import SortedProbe
from npc_lake.sources.timing import ClockFit

#: Channels per Neuropixels probe (electrode ids are numbered in steps of this per probe).
CHANNELS_PER_PROBE = 384
#: Voxel size of the CCF channel tables (µm).
CCF_VOXEL_UM = 25.0
#: Spikes per yielded batch (whole units only).
SPIKES_PER_BATCH = 2_000_000
_UNIT_METRICS = tuple(c.name for c in UNITS.columns if c.dtype in ("float64", "float32", "int64", "bool")
                      and c.name not in ("ks_unit_id", "nwb_unit_id", "peak_channel", "peak_electrode", "x", "y",
                                         "z", "num_spikes"))


@dataclass(frozen=True)
class Probe:
    """Everything read for one probe."""

    letter: str
    position: int
    sorted_output: SortedProbe
    clock: ClockFit
    first_sample: int
    ccf: pl.DataFrame | None

    @property
    def name(self) -> str:
        return f"probe{self.letter}"


def read_ccf_table(path: Path) -> pl.DataFrame:
    """A probe's channel CCF table: ``channel``, ``x``/``y``/``z`` (µm; AP, DV, ML), ``location``, ``structure``."""
    try:
        frame = pl.read_csv(path, infer_schema_length=None)
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise SourceError(str(path), f"cannot read as a CSV table: {exc}") from exc
    missing = {"channel", "AP", "DV", "ML"} - set(frame.columns)
    if missing:
        raise SourceError(str(path), f"a CCF channel table needs columns {sorted(missing)}")

    def micrometres(column: str) -> pl.Expr:
        voxels = pl.col(column).cast(pl.Float64)
        return pl.when(voxels >= 0).then(voxels * CCF_VOXEL_UM).otherwise(None)

    text = {name: pl.col(source).cast(pl.String) if source in frame.columns else pl.lit(None, pl.String)
            for name, source in (("location", "region"), ("structure", "region_stripped"))}
    return frame.select(pl.col("channel").cast(pl.Int64), micrometres("AP").alias("x"), micrometres("DV").alias("y"),
                        micrometres("ML").alias("z"), **text)


def _electrodes(session_id: str, probe: Probe) -> pl.DataFrame:
    positions = probe.sorted_output.channel_positions
    n = positions.shape[0] if positions is not None else CHANNELS_PER_PROBE
    frame = pl.DataFrame({
        "electrode_id": probe.position * CHANNELS_PER_PROBE + np.arange(n), "electrode_group_name": probe.name,
        "channel": np.arange(n),
        "rel_x": positions[:, 0] if positions is not None else np.full(n, np.nan),
        "rel_y": positions[:, 1] if positions is not None else np.full(n, np.nan)})
    if probe.ccf is not None:
        frame = frame.join(probe.ccf, on="channel", how="left")
    return frame.with_columns(session_id=pl.lit(session_id))


def _units(session_id: str, probe: Probe, electrodes: pl.DataFrame) -> pl.DataFrame:
    clusters = probe.sorted_output.clusters
    present = [c for c in _UNIT_METRICS if c in clusters.columns]
    label = clusters["label"] if "label" in clusters.columns else pl.Series([None] * clusters.height, dtype=pl.String)
    units = clusters.select(
        pl.format("{}_{}-{}", pl.lit(session_id), pl.lit(probe.letter), pl.col("cluster_id")).alias("unit_id"),
        pl.col("cluster_id").alias("ks_unit_id"),
        (pl.col("peak_channel") if "peak_channel" in clusters.columns
         else pl.lit(None, pl.Int64)).alias("peak_channel"),
        *[pl.col(c) for c in present],
        *([pl.col("decoder_label").cast(pl.String)] if "decoder_label" in clusters.columns else []),
    ).with_columns(quality=label, electrode_group_name=pl.lit(probe.name), device_name=pl.lit(probe.name),
                   peak_electrode=probe.position * CHANNELS_PER_PROBE + pl.col("peak_channel"))
    if "default_qc" not in units.columns:
        noise = (units["decoder_label"] if "decoder_label" in units.columns else label).fill_null("") == "noise"
        rule = ((pl.col("isi_violations_ratio") <= 0.5) & (pl.col("amplitude_cutoff") <= 0.1)
                & (pl.col("presence_ratio") >= 0.7)) if {"isi_violations_ratio", "amplitude_cutoff",
                                                          "presence_ratio"} <= set(units.columns) else pl.lit(None)
        units = units.with_columns(default_qc=rule.cast(pl.Boolean) & ~pl.Series(noise))
    place = [c for c in ("x", "y", "z", "location", "structure") if c in electrodes.columns]
    return units.join(electrodes.select(pl.col("channel").alias("peak_channel"), *place), on="peak_channel",
                      how="left").with_columns(session_id=pl.lit(session_id))


def probe_tables(session_id: str, probes: list[Probe]) -> dict[str, pl.DataFrame]:
    """devices, electrode_groups, electrodes and units of the session's timed probes."""
    names = [p.name for p in probes]
    devices = pl.DataFrame({"device_name": names, "description": [f"Neuropixels probe {p.letter}" for p in probes],
                            "manufacturer": ["imec"] * len(probes)}, schema_overrides={"manufacturer": pl.String})
    groups = pl.DataFrame({"electrode_group_name": names, "device_name": names,
                           "description": [f"Neuropixels probe {p.letter} channels" for p in probes]})
    electrodes = [_electrodes(session_id, p) for p in probes]
    units = [_units(session_id, p, e) for p, e in zip(probes, electrodes, strict=True)]
    return {"devices": devices.with_columns(session_id=pl.lit(session_id)),
            "electrode_groups": groups.with_columns(session_id=pl.lit(session_id)),
            "electrodes": pl.concat(electrodes, how="diagonal_relaxed") if electrodes else pl.DataFrame(),
            "units": pl.concat(units, how="diagonal_relaxed").with_row_index("nwb_unit_id").with_columns(
                pl.col("nwb_unit_id").cast(pl.Int64)) if units else pl.DataFrame()}


def _batch_bounds(counts: np.ndarray[Any, Any]) -> list[tuple[int, int]]:
    """Consecutive unit ranges of about ``SPIKES_PER_BATCH`` spikes (at least one unit each)."""
    bounds, first, total = [], 0, 0
    for index, count in enumerate(counts.tolist()):
        if index > first and total + count > SPIKES_PER_BATCH:
            bounds.append((first, index))
            first, total = index, 0
        total += count
    if first < counts.size:
        bounds.append((first, counts.size))
    return bounds


def spike_batches(session_id: str, probes: list[Probe]) -> Iterator[pl.DataFrame]:
    """Spike times of every unit on the sync clock, probe by probe, whole units per batch in time order."""
    for probe in probes:
        data = probe.sorted_output
        clusters = np.array(data.spike_clusters)  # one sequential read of the mapped file
        if clusters.size and clusters.min() >= 0 and clusters.max() < 2**16:
            clusters = clusters.astype(np.uint16)  # NumPy's stable sort of 16-bit keys is a radix sort
        order = np.argsort(clusters, kind="stable")  # files hold spikes in time order: kept per unit
        clusters = clusters[order]
        samples = np.array(data.spike_samples)[order]  # one sequential read of the mapped file, then the gather
        times = probe.clock.to_sync(probe.first_sample + samples.astype(np.int64, copy=False))
        del samples
        del order
        starts = np.concatenate([[0], np.flatnonzero(clusters[1:] != clusters[:-1]) + 1]) if clusters.size \
            else np.empty(0, dtype=np.int64)
        ids = clusters[starts].astype(np.int64)
        counts = np.diff(np.append(starts, clusters.size))
        names = pl.Series([f"{session_id}_{probe.letter}-{c}" for c in ids.tolist()], dtype=pl.String)
        for first, last in _batch_bounds(counts):
            lo, hi = int(starts[first]), int(starts[last - 1] + counts[last - 1])
            which = np.repeat(np.arange(last - first, dtype=np.uint32), counts[first:last])
            yield pl.DataFrame({"unit_id": names.slice(first, last - first).gather(which),
                                "spike_time": times[lo:hi]})


__all__ = ["Probe", "probe_tables", "read_ccf_table", "spike_batches"]
