"""NWB file-level metadata → the lake's ``sessions``, ``subjects``, ``devices`` and ``electrode_groups`` rows.

Reads ``/``, ``/general``, ``/general/subject``, ``/general/devices`` and the ElectrodeGroups under
``/general/extracellular_ephys`` (HDF5 or Zarr). Empty strings become nulls; times are parsed from ISO 8601
and converted to UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import polars as pl

from npc_lake.sources.hdf5_tables import (
    BOOKKEEPING_ATTRS,
    as_text,
    as_text_list,
    decode,
    is_dataset,
    is_group,
    is_reference,
    link_target_name,
    neurodata_type,
    read_raw,
    text,
    warn,
)

UTC_DATETIME = pl.Datetime("us", "UTC")

#: free-text fields of /general copied to ``sessions`` columns of the same name
GENERAL_TEXT = ("experiment_description", "institution", "lab", "notes", "protocol", "pharmacology", "surgery",
                "virus", "stimulus_notes", "data_collection")
GENERAL_LISTS = ("experimenter", "keywords", "related_publications")
SUBJECT_TEXT = ("species", "sex", "genotype", "strain", "age", "weight", "description")
DEVICE_FIELDS = ("description", "manufacturer", "serial_number", "model_name", "model_number")


def parse_time(value: str | None) -> tuple[datetime | None, int | None]:
    """Parse an ISO 8601 time: (UTC datetime, offset from UTC in minutes or ``None`` when naive).

    A naive time is taken to be UTC. Unparseable text gives ``(None, None)``.
    """
    if value is None:
        return None, None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None, None
    offset = parsed.utcoffset()
    if offset is None:
        return parsed.replace(tzinfo=UTC), None
    return parsed.astimezone(UTC), int(offset.total_seconds() // 60)


def _raw_text(node: Any, name: str) -> str | None:
    """Text of a dataset (not an attribute) under ``node``."""
    child = node.get(name) if is_group(node) else None
    return as_text(read_raw(node, name)) if is_dataset(child) else None


def root_metadata(file: Any) -> dict[str, Any]:
    """The ids and times needed before any table: identifier, session_id, subject_id, start time."""
    general = file.get("general")
    general = general if is_group(general) else {}
    subject = general.get("subject") if general else None
    return {
        "identifier": _raw_text(file, "identifier"),
        "nwb_session_id": _raw_text(general, "session_id") if general else None,
        "subject_id": _raw_text(subject, "subject_id") if is_group(subject) else None,
        "session_start_text": _raw_text(file, "session_start_time"),
    }


def sessions_frame(file: Any, *, session_id: str, source_uri: str, subject_id: str | None,
                   epochs: list[str | None] | None) -> pl.DataFrame:
    """The one ``sessions`` row of an NWB file."""
    general = file.get("general")
    start, offset = parse_time(_raw_text(file, "session_start_time"))
    reference, _ = parse_time(_raw_text(file, "timestamps_reference_time"))
    row: dict[str, Any] = {
        "session_id": session_id,
        "subject_id": subject_id,
        "session_start_time": start,
        "utc_offset_minutes": offset,
        "timestamps_reference_time": reference,
        "identifier": _raw_text(file, "identifier"),
        "session_description": _raw_text(file, "session_description"),
    }
    for name in GENERAL_TEXT:
        row[name] = _raw_text(general, name) if is_group(general) else None
    for name in GENERAL_LISTS:
        raw = read_raw(general, name) if is_group(general) and name in general else None
        row[name] = as_text_list(raw)
    extras = file.get("scratch/npc_lake_session")
    for name in ("rig", "task_version"):  # written by npc_lake's export: sessions fields NWB has no place for
        value = read_raw(extras, name) if is_group(extras) and name in extras else None
        row[name] = as_text(value)
    row["epochs"] = epochs
    row["nwb_version"] = as_text(file.attrs.get("nwb_version"))
    row["source_uri"] = source_uri
    schema: dict[str, Any] = {
        "session_id": pl.String, "subject_id": pl.String, "session_start_time": UTC_DATETIME,
        "utc_offset_minutes": pl.Int32, "timestamps_reference_time": UTC_DATETIME,
        **{k: pl.String for k in ("identifier", "session_description", *GENERAL_TEXT)},
        **{k: pl.List(pl.String) for k in GENERAL_LISTS},
        "rig": pl.String, "task_version": pl.String,
        "epochs": pl.List(pl.String), "nwb_version": pl.String, "source_uri": pl.String,
    }
    return pl.DataFrame([row], schema=schema)


def subjects_frame(file: Any, *, session_id: str) -> pl.DataFrame | None:
    """The ``subjects`` row of an NWB file, or ``None`` without a subject or without a subject_id."""
    subject = file.get("general/subject")
    if not is_group(subject):
        return None
    subject_id = _raw_text(subject, "subject_id")
    if subject_id is None:
        if any(_raw_text(subject, k) for k in SUBJECT_TEXT):
            warn(f"{file.filename}: general/subject has no subject_id; no subjects row was made")
        return None
    row: dict[str, Any] = {"session_id": session_id, "subject_id": subject_id}
    for name in SUBJECT_TEXT:
        row[name] = _raw_text(subject, name)
    born_text = _raw_text(subject, "date_of_birth")
    born, _ = parse_time(born_text)
    if born_text and born is None:
        warn(f"{file.filename}: general/subject/date_of_birth {born_text!r} is not ISO 8601; left null")
    row["date_of_birth"] = born
    schema: dict[str, Any] = {"session_id": pl.String, "subject_id": pl.String,
                              **{k: pl.String for k in SUBJECT_TEXT}, "date_of_birth": UTC_DATETIME}
    age = subject.get("age")
    if is_dataset(age) and as_text(age.attrs.get("reference")):
        row["age_reference"] = as_text(age.attrs.get("reference"))
        schema["age_reference"] = pl.String
    for name, child in subject.items():
        if name in row or name in ("subject_id", "date_of_birth") or not is_dataset(child):
            continue
        value = as_text(read_raw(subject, name))
        if value is not None and child.ndim == 0:
            row[name], schema[name] = value, pl.String
    return pl.DataFrame([row], schema=schema)


def _extra_attrs(node: Any, taken: set[str]) -> dict[str, str]:
    """Scalar text attributes of ``node`` beyond HDMF bookkeeping and ``taken``."""
    out: dict[str, str] = {}
    for key, value in node.attrs.items():
        if key in BOOKKEEPING_ATTRS or key in taken or is_reference(value):
            continue
        if isinstance(value, np.ndarray) and value.size > 1:
            continue
        textual = as_text(decode(value))
        if textual is not None:
            out[key] = textual
    return out


def devices_frame(file: Any, *, session_id: str) -> pl.DataFrame | None:
    """One ``devices`` row per group in ``/general/devices`` (None when there are none)."""
    devices = file.get("general/devices")
    if not is_group(devices):
        return None
    rows: list[dict[str, Any]] = []
    for name in devices:
        node = devices.get(name)
        if not is_group(node) or neurodata_type(node) is None:  # e.g. the 2.9 'models' group
            continue
        row: dict[str, Any] = {"session_id": session_id, "device_name": name}
        for key in DEVICE_FIELDS:
            row[key] = text(node, key)
        model = node.get("model")
        if is_group(model):  # NWB 2.9: a link to a DeviceModel, whose name is the model name
            row["model_name"] = row["model_name"] or link_target_name(node, "model")
            row["manufacturer"] = row["manufacturer"] or text(model, "manufacturer")
            row["model_number"] = row["model_number"] or text(model, "model_number")
        row.update(_extra_attrs(node, set(row)))
        rows.append(row)
    return _rows_frame(rows)


def electrode_groups_frame(file: Any, *, session_id: str) -> pl.DataFrame | None:
    """One ``electrode_groups`` row per ElectrodeGroup in ``/general/extracellular_ephys``."""
    ecephys = file.get("general/extracellular_ephys")
    if not is_group(ecephys):
        return None
    rows: list[dict[str, Any]] = []
    for name in ecephys:
        node = ecephys.get(name)
        if not is_group(node) or name == "electrodes":
            continue
        if neurodata_type(node) != "ElectrodeGroup" and "device" not in node and "device" not in node.attrs:
            continue
        row: dict[str, Any] = {
            "session_id": session_id, "electrode_group_name": name,
            "description": text(node, "description"), "location": text(node, "location"),
            "device_name": link_target_name(node, "device") if ("device" in node or "device" in node.attrs)
            else None,
            "position_x": None, "position_y": None, "position_z": None,
        }
        position = node.get("position")
        if is_dataset(position) and position.dtype.names:
            value = np.asarray(position[()]).ravel()
            if value.size:
                for axis, field_name in zip("xyz", position.dtype.names, strict=False):
                    row[f"position_{axis}"] = float(value[0][field_name])
        row.update(_extra_attrs(node, set(row)))
        rows.append(row)
    return _rows_frame(rows, floats=("position_x", "position_y", "position_z"))


def _rows_frame(rows: list[dict[str, Any]], *, floats: tuple[str, ...] = ()) -> pl.DataFrame | None:
    if not rows:
        return None
    keys: list[str] = []
    for row in rows:
        keys.extend(k for k in row if k not in keys)
    schema = {k: pl.Float64 if k in floats else pl.String for k in keys}
    return pl.DataFrame([{k: row.get(k) for k in keys} for row in rows], schema=schema)
