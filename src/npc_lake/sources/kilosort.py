"""Spike-sorted output of one probe in the Kilosort / phy layout, plus per-unit metrics when present.

The folder holds per-spike arrays (``spike_times.npy``: sample numbers on the probe's clock, counted from
the first sample the sorter saw; ``spike_clusters.npy``, else ``spike_templates.npy``; ``amplitudes.npy``),
per-template arrays (``templates.npy`` (template, time, channel) and ``templates_ind.npy``), channel
arrays (``channel_map.npy``, ``channel_positions.npy`` in µm), per-cluster ``cluster_*.tsv`` tables
(``cluster_group.tsv`` holds the curated label whatever its second column is called; Kilosort writes
``KSLabel``, phy writes ``group``) and ``params.py`` (``sample_rate``). Files written by MATLAB are
Fortran-ordered with shape ``(N, 1)``; they are flattened here.

A ``metrics.csv`` (one row per cluster: SpikeInterface quality and template metrics, keyed by
``cluster_id`` or an unnamed first column) is joined onto the clusters when present.
"""

from __future__ import annotations

import ast
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from npc_lake.errors import SourceError

#: Metrics file names looked for in a sorted folder, in order.
METRICS_FILES = ("metrics.csv", "quality_metrics.csv")


@dataclass(frozen=True)
class SortedProbe:
    """One probe's sorted spikes and clusters.

    Attributes
    ----------
    folder
        The sorted-output folder.
    sample_rate
        Nominal sample rate of ``spike_samples`` (``params.py``), Hz.
    spike_samples
        Sample number of every spike (an unsigned or signed integer array, memory-mapped), in file order.
    spike_clusters
        Cluster id of every spike (integer array, memory-mapped).
    amplitudes
        Template amplitude scaling of every spike (memory-mapped), or ``None``.
    clusters
        One row per cluster that has spikes or a label: ``cluster_id``, ``label`` (curated, else
        Kilosort's), ``ks_label``, ``peak_channel`` (probe channel of the largest template), the other
        ``cluster_*.tsv`` columns and the metrics.
    channel_positions
        (channel index, 2) probe coordinates in µm, or ``None``.
    """

    folder: Path
    sample_rate: float
    spike_samples: np.ndarray[Any, Any]
    spike_clusters: np.ndarray[Any, Any]
    amplitudes: np.ndarray[Any, Any] | None
    clusters: pl.DataFrame
    channel_positions: np.ndarray[Any, Any] | None


def _array(folder: Path, name: str, *, required: bool = False, mapped: bool = False) -> np.ndarray[Any, Any] | None:
    """One ``.npy`` file of the folder (``mapped``: memory-mapped, read only when used)."""
    path = folder / name
    if not path.is_file():
        if required:
            raise SourceError(str(folder), f"sorted output lacks {name}")
        return None
    try:
        return np.load(path, allow_pickle=False, mmap_mode="r" if mapped else None)
    except (OSError, ValueError, EOFError) as exc:
        raise SourceError(str(path), f"cannot read as a NumPy array: {exc}") from exc


def read_params(folder: Path) -> dict[str, Any]:
    """The assignments of ``params.py`` (literal values only; nothing is executed)."""
    path = folder / "params.py"
    if not path.is_file():
        return {}
    try:
        tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"))
    except SyntaxError as exc:
        raise SourceError(str(path), f"cannot parse: {exc}") from exc
    params: dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                params[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                continue
    return params


def _tsv(path: Path) -> pl.DataFrame:
    try:
        frame = pl.read_csv(path, separator="\t", infer_schema_length=None)
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise SourceError(str(path), f"cannot read as a tab-separated table: {exc}") from exc
    frame = frame.rename({c: c.strip() for c in frame.columns})
    if frame.width < 2 or frame.columns[0] != "cluster_id":
        raise SourceError(str(path), "a cluster table's first column must be cluster_id")
    return frame.with_columns(pl.col("cluster_id").cast(pl.Int64)).with_columns(
        pl.col(pl.String).str.strip_chars())


def _cluster_tables(folder: Path) -> pl.DataFrame:
    """Every ``cluster_*.tsv`` joined on cluster_id; ``label`` from cluster_group.tsv, ``ks_label`` from
    cluster_KSLabel.tsv."""
    merged: pl.DataFrame | None = None
    for path in sorted(folder.glob("cluster_*.tsv")):
        frame = _tsv(path)
        stem = path.stem.removeprefix("cluster_")
        if stem == "group":
            frame = frame.select("cluster_id", pl.col(frame.columns[1]).alias("label"))
        elif stem == "KSLabel":
            frame = frame.select("cluster_id", pl.col(frame.columns[1]).alias("ks_label"))
        merged = frame if merged is None else merged.join(frame, on="cluster_id", how="full", coalesce=True)
    return merged if merged is not None else pl.DataFrame(schema={"cluster_id": pl.Int64})


def _numeric(column: pl.Series) -> pl.Series:
    """A text column as float when every value is a number or a NaN spelling ("nan" is how Python writes one)."""
    values = column.cast(pl.Float64, strict=False)
    return values if values.null_count() == column.null_count() else column


def _metrics(folder: Path) -> pl.DataFrame | None:
    for name in METRICS_FILES:
        path = folder / name
        if not path.is_file():
            continue
        try:
            frame = pl.read_csv(path, infer_schema_length=None)  # empty cells are null, "nan" stays NaN
        except (OSError, pl.exceptions.PolarsError) as exc:
            raise SourceError(str(path), f"cannot read as a CSV table: {exc}") from exc
        frame = frame.with_columns([_numeric(frame[c]) for c in frame.columns if frame[c].dtype == pl.String])
        key = "cluster_id" if "cluster_id" in frame.columns else frame.columns[0]
        if key != "cluster_id" and key not in ("", "unit_id", "Unnamed: 0", "index"):
            raise SourceError(str(path), "a metrics table needs a cluster_id (or unnamed first) column")
        return frame.rename({key: "cluster_id"}).with_columns(pl.col("cluster_id").cast(pl.Int64))
    return None


def _peak_channels(folder: Path, spike_clusters: np.ndarray[Any, Any]) -> pl.DataFrame | None:
    """Probe channel of each cluster's largest template (the template most of its spikes came from)."""
    templates = _array(folder, "templates.npy")
    if templates is None or templates.ndim != 3:
        return None
    index = _array(folder, "templates_ind.npy")
    channel_map = _array(folder, "channel_map.npy")
    spike_templates = _array(folder, "spike_templates.npy")
    amplitude = templates.max(axis=1) - templates.min(axis=1)  # (template, channel) peak-to-peak
    local = amplitude.argmax(axis=1)
    columns = (index[np.arange(local.size), local].astype(np.int64) if index is not None and index.shape[:1]
               == local.shape else local)
    channels = channel_map.ravel()[columns] if channel_map is not None else columns
    if spike_templates is None:
        ids = np.arange(templates.shape[0])
        return pl.DataFrame({"cluster_id": ids, "peak_channel": channels.astype(np.int64)})
    pairs = pl.DataFrame({"cluster_id": np.asarray(spike_clusters, dtype=np.int64),
                          "template": spike_templates.ravel().astype(np.int64)})
    main = (pairs.group_by("cluster_id", "template").len().sort("len", "template", descending=[True, False])
            .unique("cluster_id", keep="first"))
    valid = main.filter(pl.col("template") < channels.size)
    return pl.DataFrame({"cluster_id": valid["cluster_id"],
                         "peak_channel": channels[valid["template"].to_numpy()].astype(np.int64)})


def read_sorted(folder: str | os.PathLike[str], *, sample_rate: float | None = None) -> SortedProbe:
    """Read one probe's sorted output.

    Parameters
    ----------
    folder
        The folder with ``spike_times.npy`` and the rest.
    sample_rate
        Rate of the spike sample numbers when ``params.py`` does not give it.

    Raises
    ------
    SourceError
        A required file is missing or unreadable, or the per-spike arrays disagree in length.
    """
    root = Path(folder)
    if not root.is_dir():
        raise SourceError(str(root), "no such sorted-output folder")
    samples = _array(root, "spike_times.npy", required=True, mapped=True)
    clusters = _array(root, "spike_clusters.npy", mapped=True)
    if clusters is None:
        clusters = _array(root, "spike_templates.npy", mapped=True)
    if clusters is None:
        raise SourceError(str(root), "sorted output lacks spike_clusters.npy (and spike_templates.npy)")
    assert samples is not None
    spike_samples, spike_clusters = samples.ravel(), clusters.ravel()
    if spike_samples.dtype.kind not in "iu" or spike_clusters.dtype.kind not in "iu":
        raise SourceError(str(root), "spike_times.npy and spike_clusters.npy must hold integers")
    amplitudes_raw = _array(root, "amplitudes.npy", mapped=True)
    amplitudes = amplitudes_raw.ravel() if amplitudes_raw is not None else None
    lengths = {spike_samples.size, spike_clusters.size} | ({amplitudes.size} if amplitudes is not None else set())
    if len(lengths) != 1:
        raise SourceError(str(root), f"per-spike arrays differ in length ({sorted(lengths)})")
    params = read_params(root)
    rate = params.get("sample_rate") or sample_rate
    if not rate:
        raise SourceError(str(root), "no sample rate: params.py lacks sample_rate")
    table = pl.DataFrame({"cluster_id": np.unique(spike_clusters).astype(np.int64)}).join(
        _cluster_tables(root), on="cluster_id", how="full", coalesce=True)
    for extra in (_peak_channels(root, spike_clusters), _metrics(root)):
        if extra is not None:
            table = table.join(extra, on="cluster_id", how="left", suffix="_metrics")
    if "label" not in table.columns:
        table = table.with_columns(label=pl.col("ks_label") if "ks_label" in table.columns else pl.lit(None, pl.String))
    positions = _array(root, "channel_positions.npy")
    return SortedProbe(folder=root, sample_rate=float(rate), spike_samples=spike_samples,
                       spike_clusters=spike_clusters, amplitudes=amplitudes, clusters=table.sort("cluster_id"),
                       channel_positions=positions)
