"""NWB time series → the lake's ``events``, ``timeseries`` and ``recordings`` tables (HDF5 or Zarr).

Every group under ``/acquisition``, ``/processing/<module>`` and ``/events`` is visited:

- TimeSeries inside a ``BehavioralEvents`` container, ndx-events 0.2 ``Events``/``LabeledEvents``/``TTLs``
  and events tables (core/ndx-events ``EventsTable``, ``TtlsTable``: a ``timestamp`` column) → ``events``;
- ``ElectricalSeries`` (anything with an ``electrodes`` region) → ``recordings`` (samples are never read;
  ``data_uri`` is the file holding them, following an external link of ``data``);
- every other numeric TimeSeries → ``timeseries`` (long format, one row per sample and channel);
- image series, ``SpikeEventSeries`` and unknown types are skipped with a :class:`SourceWarning`.
"""

from __future__ import annotations

import os
import posixpath
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from npc_lake.schema.conventions import DERIVED_SERIES_MARKER, EVENTS_WITHOUT_VALUES
from npc_lake.sources.hdf5_tables import (
    as_text,
    decode,
    external_link,
    is_dataset,
    is_dynamic_table,
    is_group,
    map_region,
    neurodata_type,
    read_table,
    ref_path,
    warn,
)

EVENT_SERIES_TYPES = frozenset({"Events", "LabeledEvents", "TTLs"})
EVENT_TABLE_TYPES = frozenset({"EventsTable", "TtlsTable"})
IMAGE_TYPES = frozenset({"ImageSeries", "OpticalSeries", "TwoPhotonSeries", "OnePhotonSeries", "ImageMaskSeries"})
LFP_CONTAINERS = frozenset({"LFP", "FilteredEphys"})
#: container types whose members are reported one by one (no extra warning when none is ingested)
CONTAINERS = frozenset({"ProcessingModule", "BehavioralEvents", "BehavioralTimeSeries", "BehavioralEpochs", "Position",
                        "CompassDirection", "EyeTracking", "PupilTracking", "LFP", "FilteredEphys", "EventWaveform",
                        "Fluorescence", "DfOverF", "ImageSegmentation", "ImagingRetinotopy", "MotionCorrection"})
SERIES_ROOTS = ("acquisition", "processing", "events")


@dataclass
class Found:
    """One object found while walking the file."""

    kind: str  # "event", "event_table", "series", "recording", "intervals"
    name: str
    container: str
    node: Any
    in_lfp: bool = False

    @property
    def path(self) -> str:
        """HDF5 path without the leading slash."""
        return str(self.node.name).lstrip("/")


@dataclass
class SeriesTables:
    """What :func:`read_series_tables` found: frames (``None`` when empty) and stray TimeIntervals groups."""

    events: pl.DataFrame | None = None
    timeseries: pl.DataFrame | None = None
    recordings: pl.DataFrame | None = None
    interval_groups: list[Any] = field(default_factory=list)


def is_series(node: Any) -> bool:
    """Whether a group is laid out as a TimeSeries (``data`` plus ``timestamps`` or ``starting_time``)."""
    return (is_group(node) and "data" in node
            and ("timestamps" in node or "starting_time" in node))


def walk(file: Any) -> list[Found]:
    """Every series, events table and TimeIntervals group under acquisition/, processing/ and events/."""
    found: list[Found] = []
    for root in SERIES_ROOTS:
        group = file.get(root)
        if is_group(group):
            _walk(group, found, behavioral_events=False, in_lfp=False)
    return found


def _walk(group: Any, found: list[Found], *, behavioral_events: bool, in_lfp: bool) -> None:
    container = posixpath.basename(group.name)
    for name in group:
        child = group.get(name)
        if child is None:
            warn(f"{group.file.filename}: {group.name}/{name} is a broken link; skipped")
            continue
        if not is_group(child):
            continue
        kind = neurodata_type(child)
        item = _classify(child, kind, behavioral_events=behavioral_events)
        if item == "recording" and (as_text(child.attrs.get("comments")) or "").startswith(DERIVED_SERIES_MARKER):
            continue  # computed by npc_lake's export from a recording the lake has (filtered LFP)
        if item is not None:
            found.append(Found(item, name, container, child, in_lfp=in_lfp or "lfp" in name.lower()))
        elif is_series(child) or is_dynamic_table(child):
            warn(f"{child.file.filename}: {child.name} ({kind or 'untyped'}) is not ingested; skipped")
        else:
            before = len(found)
            _walk(child, found, behavioral_events=kind == "BehavioralEvents",
                  in_lfp=in_lfp or kind in LFP_CONTAINERS)
            if kind is not None and kind not in CONTAINERS and len(found) == before and len(child):
                warn(f"{child.file.filename}: {child.name} of type {kind} holds nothing the lake ingests; skipped")


def _classify(node: Any, kind: str | None, *, behavioral_events: bool) -> str | None:
    if kind in EVENT_SERIES_TYPES or (kind is not None and "timestamps" in node and "data" not in node
                                      and not is_dynamic_table(node)):
        return "event"
    if is_dynamic_table(node):
        if kind == "TimeIntervals":
            return "intervals"
        return "event_table" if kind in EVENT_TABLE_TYPES or "timestamp" in node else None
    if not is_series(node):
        return None
    data = node["data"]
    if kind == "SpikeEventSeries" or kind in IMAGE_TYPES or "external_file" in node or len(data.shape) > 2:
        return None
    if kind == "ElectricalSeries" or neurodata_type(node.get("electrodes", node)) == "DynamicTableRegion":
        return "recording"
    return "event" if behavioral_events else "series"


def unique_names(items: list[Found]) -> list[str]:
    """Item names, prefixed with the container name where a name occurs more than once."""
    counts = Counter(i.name for i in items)
    names = [f"{i.container}_{i.name}" if counts[i.name] > 1 else i.name for i in items]
    again = Counter(names)
    return [i.path.replace("/", "_") if again[n] > 1 else n for i, n in zip(items, names, strict=True)]


def series_times(node: Any, n: int) -> np.ndarray:
    """Sample times of a series: its timestamps, else ``starting_time + i / rate``."""
    stamps = node.get("timestamps")
    if is_dataset(stamps):
        return np.asarray(stamps[()], dtype=np.float64).ravel()
    start = node["starting_time"]
    rate = float(decode(start.attrs.get("rate", np.nan)))
    return float(decode(start[()])) + np.arange(n, dtype=np.float64) / rate


def scaled(data_ds: Any, data: np.ndarray) -> np.ndarray:
    """``data * conversion + offset`` as float64 (attributes of the data dataset; defaults 1 and 0)."""
    values = np.asarray(data, dtype=np.float64)
    conversion = float(decode(data_ds.attrs.get("conversion", 1.0)))
    offset = float(decode(data_ds.attrs.get("offset", 0.0)))
    if conversion != 1.0:
        values = values * conversion
    if offset != 0.0:
        values = values + offset
    return values


def _event_series_frame(item: Found, name: str) -> pl.DataFrame:
    node = item.node
    data_ds = node.get("data")
    n = int(data_ds.shape[0]) if is_dataset(data_ds) and data_ds.shape else 0
    times = series_times(node, n)
    value: np.ndarray | None = None
    label: list[str | None] | None = None
    placeholder = as_text(node.attrs.get("comments")) == EVENTS_WITHOUT_VALUES
    if is_dataset(data_ds) and data_ds.dtype.kind in "biuf" and data_ds.ndim == 1 and not placeholder:
        raw = np.asarray(data_ds[()])
        if len(raw) == len(times):
            value = scaled(data_ds, raw)
            labels = node.attrs.get("labels")
            if labels is not None and raw.dtype.kind in "iu":
                names = [as_text(v) for v in np.atleast_1d(labels)]
                label = [names[i] if 0 <= i < len(names) else None for i in raw.tolist()]
    frame = _events(name, item.path, as_text(node.attrs.get("description")), times, value)
    return frame if label is None else frame.with_columns(pl.Series("label", label, dtype=pl.String))


def _events(name: str, path: str, description: str | None, times: np.ndarray,
            value: np.ndarray | None) -> pl.DataFrame:
    n = len(times)
    frame = pl.DataFrame({
        "event_index": np.arange(n, dtype=np.int64),
        "event_time": np.asarray(times, dtype=np.float64),
        "value": pl.Series(value, dtype=pl.Float64) if value is not None else pl.repeat(None, n, dtype=pl.Float64,
                                                                                        eager=True),
    })
    return frame.select(
        pl.lit(name, dtype=pl.String).alias("name"), "event_index", "event_time", "value",
        pl.lit(path, dtype=pl.String).alias("nwb_path"), pl.lit(description, dtype=pl.String).alias("description"))


def _event_table_frame(item: Found, name: str) -> pl.DataFrame:
    node = item.node
    table = read_table(node)
    frame = table.frame
    col = "timestamp" if "timestamp" in frame.columns else "timestamps"
    times = frame[col].cast(pl.Float64).to_numpy()
    value: np.ndarray | None = None
    if "value" in frame.columns and frame["value"].dtype.is_numeric():
        value = frame["value"].cast(pl.Float64).to_numpy()
    elif "ttl_type" in node:
        value = _ttl_values(node)
    out = _events(name, item.path, table.description, times, value)
    extras = [c for c in ("duration", "label", "annotation") if c in frame.columns]
    return out.with_columns(frame[c] for c in extras)


def _ttl_values(node: Any) -> np.ndarray | None:
    """``pulse_value`` of each TTL's type row, for a TtlsTable whose ``ttl_type`` points at a TtlTypesTable."""
    region = node["ttl_type"]
    target = ref_path(node.file, region.attrs.get("table"))
    types = node.file.get(target) if target else None
    if not is_group(types) or "pulse_value" not in types:
        return None
    pulse = np.asarray(types["pulse_value"][()], dtype=np.float64)
    rows = np.asarray(region[()], dtype=np.int64)
    return pulse[rows] if rows.size == 0 or (rows.min() >= 0 and rows.max() < len(pulse)) else None


def _timeseries_frame(item: Found, name: str) -> pl.DataFrame | None:
    node = item.node
    data_ds = node["data"]
    if data_ds.dtype.kind not in "biuf":
        warn(f"{node.file.filename}: {node.name} has non-numeric data ({data_ds.dtype}); skipped")
        return None
    data = np.asarray(data_ds[()])
    data = data.reshape(len(data), -1) if data.ndim else data.reshape(1, 1)
    n, k = data.shape
    times = series_times(node, n)
    if len(times) != n:
        warn(f"{node.file.filename}: {node.name} has {n} samples but {len(times)} timestamps; kept the shorter")
        n = min(n, len(times))
        data, times = data[:n], times[:n]
    frame = pl.DataFrame({
        "sample_index": np.repeat(np.arange(n, dtype=np.int64), k),
        "channel": np.tile(np.arange(k, dtype=np.int32), n),
        "sample_time": np.repeat(times, k),
        "value": scaled(data_ds, data).ravel(),
    })
    return frame.select(
        pl.lit(name, dtype=pl.String).alias("name"), pl.all(),
        pl.lit(as_text(data_ds.attrs.get("unit")), dtype=pl.String).alias("unit"),
        pl.lit(item.path, dtype=pl.String).alias("nwb_path"),
        pl.lit(as_text(node.attrs.get("description")), dtype=pl.String).alias("description"))


def samples_uri(node: Any, default: str) -> str:
    """The file holding the samples of series ``node``: the target of an external link of its ``data``
    (absolute; a relative link is taken relative to the linking file's folder, as HDF5 does), else ``default``.
    """
    link = external_link(node, "data")
    if link is None:
        return default
    filename, path = link
    folder = os.path.dirname(os.path.abspath(node.file.filename))
    target = os.path.normpath(os.path.join(folder, filename))
    if path.rstrip("/") != f"{node.name}/data":
        warn(f"{node.file.filename}: {node.name}/data links to {target}:{path}, not to the same path; "
             "recordings.nwb_path names the series, not its samples")
    return target


def _recording_row(item: Found, name: str, data_uri: str,
                   region_ids: dict[str, np.ndarray]) -> dict[str, Any]:
    node = item.node
    data = node["data"]
    data_uri = samples_uri(node, data_uri)
    start = node.get("starting_time")
    stamps = node.get("timestamps")
    first: float | None = None
    if is_dataset(start):
        first = float(decode(start[()]))
    elif is_dataset(stamps) and stamps.shape and stamps.shape[0]:
        first = float(stamps[0])
    electrodes: list[int] | None = None
    region = node.get("electrodes")
    if is_dataset(region):
        electrodes = map_region(region, np.asarray(region[()]).ravel(), region_ids).astype(np.int64).tolist()
    kind = "lfp" if item.in_lfp else "raw"
    return {
        "recording_name": name, "nwb_path": item.path, "neurodata_type": neurodata_type(node), "kind": kind,
        "data_uri": data_uri,
        "rate": float(decode(start.attrs["rate"])) if is_dataset(start) else float("nan"),
        "starting_time": first, "n_samples": int(data.shape[0]) if data.shape else 0,
        "n_channels": int(data.shape[1]) if len(data.shape) > 1 else 1, "electrode_ids": electrodes,
        "unit": as_text(data.attrs.get("unit")), "conversion": float(decode(data.attrs.get("conversion", 1.0))),
        "description": as_text(node.attrs.get("description")), "filtering": as_text(node.attrs.get("filtering")),
    }


_RECORDING_SCHEMA: dict[str, Any] = {
    "recording_name": pl.String, "nwb_path": pl.String, "neurodata_type": pl.String, "kind": pl.String,
    "data_uri": pl.String, "rate": pl.Float64, "starting_time": pl.Float64, "n_samples": pl.Int64,
    "n_channels": pl.Int64, "electrode_ids": pl.List(pl.Int64), "unit": pl.String, "conversion": pl.Float64,
    "description": pl.String, "filtering": pl.String,
}


def read_series_tables(file: Any, *, data_uri: str, region_ids: dict[str, np.ndarray]) -> SeriesTables:
    """Read events, timeseries and recordings of an open NWB file (frames without ``session_id``).

    Parameters
    ----------
    file
        An open NWB file (h5py or Zarr).
    data_uri
        Where the samples of the file's ElectricalSeries live (the file's own URI).
    region_ids
        Row ids of tables by HDF5 path (the electrodes table), to map electrode regions to ids.
    """
    found = walk(file)
    out = SeriesTables(interval_groups=[f.node for f in found if f.kind == "intervals"])
    events = [f for f in found if f.kind in ("event", "event_table")]
    frames = [(_event_series_frame if f.kind == "event" else _event_table_frame)(f, n)
              for f, n in zip(events, unique_names(events), strict=True)]
    if frames:
        out.events = pl.concat(frames, how="diagonal_relaxed")
    series = [f for f in found if f.kind == "series"]
    sampled = [_timeseries_frame(f, n) for f, n in zip(series, unique_names(series), strict=True)]
    if any(s is not None for s in sampled):
        out.timeseries = pl.concat([s for s in sampled if s is not None], how="vertical")
    recs = [f for f in found if f.kind == "recording"]
    if recs:
        rows = [_recording_row(f, n, data_uri, region_ids) for f, n in zip(recs, unique_names(recs), strict=True)]
        out.recordings = pl.DataFrame(rows, schema=_RECORDING_SCHEMA)
    return out


__all__ = ["SeriesTables", "read_series_tables", "series_times", "walk"]
