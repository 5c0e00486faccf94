"""NWB DynamicTables → lake frames: electrodes, units, trials, epochs, intervals; casting to declared dtypes.

Everything here works on an open NWB file (h5py, or the Zarr view of :mod:`npc_lake.sources.zarr_tree`);
:mod:`npc_lake.sources.nwb` opens, validates and assembles.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

from npc_lake.schema import Table
from npc_lake.schema.conventions import default_column_description, default_table_description
from npc_lake.schema.ephys import ELECTRODES, UNITS
from npc_lake.schema.session import EPOCHS, INTERVALS
from npc_lake.schema.trials import TRIALS
from npc_lake.sources.hdf5_tables import (
    TableData,
    UnsupportedColumnError,
    as_text,
    column_array,
    is_dataset,
    is_dynamic_table,
    is_group,
    nest,
    neurodata_type,
    read_table,
    reference_kind,
    warn,
)

ELECTRODES_PATH = "/general/extracellular_ephys/electrodes"
#: Units columns not put in ``units``: spike trains are streamed, waveforms are read separately
UNITS_STREAMED = ("spike_times", "spike_amplitudes")
UNITS_WAVEFORMS = ("waveform_mean", "waveform_sd")


@dataclass
class Described:
    """Column descriptions gathered while reading tables: (lake table, source table, column, text)."""

    rows: list[tuple[str, str, str, str]] = field(default_factory=list)

    def add(self, lake_table: str, data: TableData, renames: dict[str, str], kept: list[str]) -> None:
        """Record the table's description and its ``kept`` columns' descriptions under their lake names.

        A description equal to the one the NWB writer would give anyway (the schema's declaration, or
        the default of :mod:`npc_lake.schema.conventions`) carries nothing and is not recorded, so that
        lake → NWB → lake gives the same rows.
        """
        if data.description and data.description != default_table_description(lake_table, data.name):
            self.rows.append((lake_table, data.name, "", data.description))
        declared = DECLARED.get(lake_table)
        aliases = declared.aliases if declared is not None else {}
        for column, text in data.column_descriptions.items():
            name = renames.get(column, column)
            if name not in kept:
                continue
            if name in aliases and aliases[name] not in kept:
                name = aliases[name]
            if text != default_column_description(declared, name):
                self.rows.append((lake_table, data.name, name, text))

    def frame(self, session_id: str) -> pl.DataFrame | None:
        """The ``column_descriptions`` rows (``None`` when there are none)."""
        if not self.rows:
            return None
        names = ("table_name", "source_name", "column_name", "description")
        frame = pl.DataFrame(self.rows, schema=dict.fromkeys(names, pl.String), orient="row")
        return frame.unique(subset=list(names[:3]), keep="first", maintain_order=True).with_columns(
            pl.lit(session_id, dtype=pl.String).alias("session_id")).select("session_id", *names)


def label_session(frame: pl.DataFrame, table: Table, *, session_id: str) -> pl.DataFrame:
    """Rename the table's aliases to their declared names and put ``session_id`` first.

    Dtypes stay as the file stores them: casting to the declared dtypes is normalize/'s job. A column the
    file itself calls ``session_id`` is kept as ``source_session_id``.
    """
    if "session_id" in frame.columns:
        frame = frame.rename({"session_id": "source_session_id"})
    frame = conform_names(frame, table)
    return frame.select(pl.lit(session_id, dtype=pl.String).alias("session_id"), pl.all())


def electrodes_frame(file: Any) -> tuple[TableData, pl.DataFrame, dict[str, str]] | None:
    """Read ``/general/extracellular_ephys/electrodes`` (group references → group names)."""
    group = file.get(ELECTRODES_PATH)
    if not is_dynamic_table(group):
        return None
    data = read_table(group, ref_columns=("group",))
    frame = data.frame
    renames = {"id": "electrode_id"}
    group_is_ref = is_dataset(group.get("group")) and reference_kind(group["group"]) is not None
    if "group_name" in frame.columns:
        renames["group_name"] = "electrode_group_name"
        if group_is_ref and "group" in frame.columns:
            frame = frame.drop("group")
    elif group_is_ref and "group" in frame.columns:
        renames["group"] = "electrode_group_name"
    return data, frame.rename(renames), renames


def _waveform(group: Any, name: str) -> pa.Array:
    """A waveform column as samples × channels per unit (a (units, samples) dataset gives samples × 1)."""
    ds = group[name]
    if is_dataset(group.get(f"{name}_index")):
        return column_array(group, name)
    data = np.asarray(ds[()], dtype=np.float64)
    if data.ndim == 1:
        data = data.reshape(len(data), 1, 1)
    elif data.ndim == 2:
        data = data.reshape(*data.shape, 1)
    elif data.ndim != 3:
        raise UnsupportedColumnError(f"it has {data.ndim} dimensions")
    return nest(pa.array(data.ravel()), data.shape)


@dataclass
class UnitsRead:
    """The units frame plus what the spike stream needs."""

    data: TableData
    frame: pl.DataFrame
    renames: dict[str, str]
    unit_ids: list[str]
    has_spikes: bool
    has_amplitudes: bool


def units_frame(file: Any, *, session_id: str, region_ids: dict[str, np.ndarray]) -> UnitsRead | None:
    """Read ``/units``: ids, electrode links, waveforms, metrics and spike counts (not the spikes)."""
    group = file.get("units")
    if not is_dynamic_table(group):
        return None
    uri = file.filename
    data = read_table(group, skip=(*UNITS_STREAMED, *UNITS_WAVEFORMS), ref_columns=("electrode_group",),
                      region_ids=region_ids)
    frame = data.frame
    renames = {"id": "nwb_unit_id"}
    if "unit_id" in frame.columns and frame.schema["unit_id"] != pl.String:
        renames["unit_id"] = "source_unit_id"
    frame = frame.rename(renames)
    if "unit_id" not in frame.columns:
        frame = frame.with_columns(
            (pl.lit(f"{session_id}_") + pl.col("nwb_unit_id").cast(pl.String)).alias("unit_id"))
    if "electrode_group" in frame.columns and frame.schema["electrode_group"] == pl.String:
        if "electrode_group_name" in frame.columns:
            frame = frame.drop("electrode_group")
        else:
            renames["electrode_group"] = "electrode_group_name"
            frame = frame.rename({"electrode_group": "electrode_group_name"})
    for name in UNITS_WAVEFORMS:
        if not is_dataset(group.get(name)):
            continue
        try:
            wave = _waveform(group, name)
        except UnsupportedColumnError as exc:
            warn(f"{uri}: /units/{name} dropped because {exc}")
            continue
        if len(wave) != frame.height:
            warn(f"{uri}: /units/{name} has {len(wave)} rows, the table {frame.height}; dropped")
            continue
        frame = frame.with_columns(pl.Series(name, pl.from_arrow(wave)))
        description = as_text(group[name].attrs.get("description"))
        if description is not None:
            data.column_descriptions[name] = description
    has_spikes = is_dataset(group.get("spike_times")) and "spike_times_index" in group
    has_amplitudes = False
    if has_spikes:
        ends = np.asarray(group["spike_times_index"][()], dtype=np.int64)
        frame = frame.with_columns(pl.Series("num_spikes", np.diff(ends, prepend=0), dtype=pl.Int64))
        amps = group.get("spike_amplitudes")
        has_amplitudes = is_dataset(amps) and amps.shape == group["spike_times"].shape
        if is_dataset(amps) and not has_amplitudes:
            warn(f"{uri}: /units/spike_amplitudes does not match spike_times in length; amplitudes not read")
    unit_ids = frame["unit_id"].cast(pl.String).to_list()
    return UnitsRead(data, frame, renames, unit_ids, has_spikes, has_amplitudes)


def time_intervals(file: Any, extra_groups: list[Any]) -> list[Any]:
    """TimeIntervals groups under ``/intervals`` (any name) plus those found elsewhere."""
    intervals = file.get("intervals")
    found: list[Any] = []
    if is_group(intervals):
        for name in intervals:
            node = intervals.get(name)
            if not is_dynamic_table(node):
                continue
            if neurodata_type(node) not in (None, "TimeIntervals") and "start_time" not in node:
                warn(f"{file.filename}: {node.name} ({neurodata_type(node)}) is not a TimeIntervals table; skipped")
                continue
            found.append(node)
    return found + list(extra_groups)


def interval_frame(group: Any, *, region_ids: dict[str, np.ndarray]) -> tuple[TableData, pl.DataFrame]:
    """A TimeIntervals table as a frame (``id`` still named ``id``)."""
    data = read_table(group, region_ids=region_ids)
    return data, data.frame


def trials_frame(data: TableData) -> tuple[pl.DataFrame, dict[str, str]]:
    """Trials: ``trial_index`` from the table's own column if present, else the row id."""
    frame = data.frame
    if "trial_index" in frame.columns:
        return frame.drop("id"), {}
    return frame.rename({"id": "trial_index"}), {"id": "trial_index"}


def epochs_frame(data: TableData) -> pl.DataFrame:
    """Epochs: ``epoch_index`` from the row id; ``script_name`` null when the file has none."""
    frame = conform_names(data.frame.rename({"id": "epoch_index"}), DECLARED["epochs"])  # stim_name: older files
    if "script_name" not in frame.columns:
        frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias("script_name"))
    return frame


def epoch_names(frame: pl.DataFrame) -> list[str | None]:
    """One name per epoch for ``sessions.epochs``: its script_name, else its first tag."""
    names: list[str | None] = frame["script_name"].cast(pl.String).to_list()
    if "tags" in frame.columns and isinstance(frame.schema["tags"], pl.List):
        tags = frame["tags"].to_list()
        names = [n if n is not None else (str(t[0]) if t else None) for n, t in zip(names, tags, strict=True)]
    return names


def intervals_frame(parts: list[tuple[str, pl.DataFrame]], *, uri: str) -> pl.DataFrame:
    """Stack TimeIntervals tables into ``intervals`` rows, resolving dtype clashes between tables."""
    frames = [f.rename({"id": "interval_index"}).select(pl.lit(name, dtype=pl.String).alias("interval_name"), pl.all())
              for name, f in parts]
    frames = [conform_names(f, INTERVALS) for f in frames]
    dtypes: dict[str, set[pl.DataType]] = {}
    for frame in frames:
        for column, dtype in frame.schema.items():
            dtypes.setdefault(column, set()).add(dtype)
    clashes = {c for c, ts in dtypes.items() if len(ts) > 1 and not all(t.is_numeric() for t in ts)}
    fixed = []
    for (name, _), frame in zip(parts, frames, strict=True):
        for column in clashes & set(frame.columns):
            if isinstance(frame.schema[column], (pl.List, pl.Struct, pl.Array)):
                warn(f"{uri}: intervals column {column!r} of {name} clashes in type with another table; renamed")
                frame = frame.rename({column: f"{name}_{column}"})
            else:
                frame = frame.with_columns(pl.col(column).cast(pl.String))
        fixed.append(frame)
    return pl.concat(fixed, how="diagonal_relaxed")


def conform_names(frame: pl.DataFrame, table: Table) -> pl.DataFrame:
    """Rename aliases to their declared names (where the declared name is not already present)."""
    return frame.rename({a: n for a, n in table.aliases.items() if a in frame.columns and n not in frame.columns})


def interval_name(group: Any, taken: set[str]) -> str:
    """Name of a TimeIntervals table in ``intervals``: its own name, prefixed by its parent if taken."""
    name = posixpath.basename(group.name)
    if name in taken:
        name = f"{posixpath.basename(posixpath.dirname(group.name))}_{name}"
    taken.add(name)
    return name


DECLARED = {"electrodes": ELECTRODES, "units": UNITS, "trials": TRIALS, "epochs": EPOCHS, "intervals": INTERVALS}
