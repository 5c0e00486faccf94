"""Devices, electrode groups and the electrodes table."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import polars as pl
from hdmf.common import VectorData
from pynwb import NWBFile
from pynwb.device import Device, DeviceModel
from pynwb.ecephys import ElectrodeGroup, ElectrodesTable

from npc_lake.errors import SessionError
from npc_lake.export._convert import (
    Descriptions,
    check_name,
    construct,
    ordered_columns,
    row_ids,
    table_columns,
)
from npc_lake.schema import SessionBundle

#: Lake electrodes columns that become a differently named NWB column.
_ELECTRODE_RENAMES = {"electrode_group_name": "group_name"}


def _text(row: dict[str, Any], name: str) -> str | None:
    value = row.get(name)
    return value if isinstance(value, str) and value != "" else None


def add_devices(nwbfile: NWBFile, bundle: SessionBundle) -> None:
    """Add one ``Device`` per ``devices`` row.

    A device whose manufacturer and model name are both known links to a shared ``DeviceModel`` named
    after the model (one per distinct manufacturer, model name and model number), as NWB 2.9+ prefers.
    Otherwise (``DeviceModel`` needs both, and its name is the model name) the known fields go into the
    older ``Device`` attributes, so that what the source did not record is read back as null.

    Parameters
    ----------
    nwbfile
        The file being built.
    bundle
        The session; only ``devices`` is read.
    """
    frame = bundle.table("devices")
    if frame is None:
        return
    models: dict[str, tuple[tuple[str, str | None], DeviceModel]] = {}
    for row in frame.iter_rows(named=True):
        name = check_name(row["device_name"], what="device", session_id=bundle.session_id)
        manufacturer, model_name, model_number = (_text(row, k) for k in ("manufacturer", "model_name",
                                                                           "model_number"))
        kwargs: dict[str, Any] = {"name": name}
        for field in ("description", "serial_number"):
            if _text(row, field):
                kwargs[field] = row[field]
        # a DeviceModel's name may hold neither '/' nor ':' (pynwb refuses to write it)
        if manufacturer is not None and model_name is not None and not set(model_name) & {"/", ":"}:
            key = (manufacturer, model_number)
            if model_name not in models:
                models[model_name] = key, nwbfile.create_device_model(
                    name=model_name, manufacturer=manufacturer, model_number=model_number,
                    description=" ".join(v for v in (manufacturer, model_name, model_number) if v))
            if models[model_name][0] == key:
                nwbfile.add_device(construct(Device, **kwargs, model=models[model_name][1]))
                continue
        legacy = {k: v for k, v in (("manufacturer", manufacturer), ("model_name", model_name),
                                    ("model_number", model_number)) if v is not None}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            nwbfile.add_device(construct(Device, **kwargs, **legacy))


def _device(nwbfile: NWBFile, name: str) -> Device:
    """The device called ``name``, created (with a note) when the devices table did not list it."""
    if name not in nwbfile.devices:
        nwbfile.add_device(construct(Device, name=name,
                                     description="Named by an electrode group; not in the devices table."))
    return nwbfile.devices[name]


def add_electrode_groups(nwbfile: NWBFile, bundle: SessionBundle) -> None:
    """Add one ``ElectrodeGroup`` per ``electrode_groups`` row, linked to its device.

    A group without ``device_name`` is linked to a device of its own name (created if missing), since
    NWB requires every group to have a device. Null description/location are written as ``""``;
    ``position`` is written when any of ``position_x/y/z`` is known (NaN for the others).

    Parameters
    ----------
    nwbfile
        The file being built (devices already added).
    bundle
        The session; only ``electrode_groups`` is read.
    """
    frame = bundle.table("electrode_groups")
    if frame is None:
        return
    for row in frame.iter_rows(named=True):
        name = check_name(row["electrode_group_name"], what="electrode group", session_id=bundle.session_id)
        device = _device(nwbfile, _text(row, "device_name") or name)
        position = [row.get(f"position_{axis}") for axis in "xyz"]
        kwargs: dict[str, Any] = {}
        if any(p is not None for p in position):
            kwargs["position"] = tuple(float("nan") if p is None else float(p) for p in position)
        nwbfile.add_electrode_group(construct(
            ElectrodeGroup, name=name, description=row.get("description") or "", location=row.get("location") or "",
            device=device, **kwargs))


def add_electrodes(nwbfile: NWBFile, bundle: SessionBundle) -> None:
    """Write the ``electrodes`` table: ids = ``electrode_id``, ``group`` links, then every other column.

    ``electrode_group_name`` is written as NWB's ``group_name`` column; ``location`` (required by NWB)
    is written as ``""`` where null.

    Parameters
    ----------
    nwbfile
        The file being built (electrode groups already added).
    bundle
        The session; ``electrodes`` and ``column_descriptions`` are read.

    Raises
    ------
    SessionError
        If an electrode names no group or a group that was not added, or electrode ids repeat.
    """
    frame = bundle.table("electrodes")
    if frame is None or frame.height == 0:
        return
    groups = frame["electrode_group_name"] if "electrode_group_name" in frame.columns else None
    if groups is None or groups.null_count():
        raise SessionError(bundle.session_id, "every electrode needs an electrode_group_name to export")
    missing = set(groups.unique().to_list()) - set(nwbfile.electrode_groups)
    if missing:
        raise SessionError(bundle.session_id, f"electrodes name unknown electrode groups: {sorted(missing)}")
    descriptions = Descriptions(bundle, "electrodes")
    ids = row_ids(frame, "electrode_id", table="electrodes", session_id=bundle.session_id)
    location = frame["location"] if "location" in frame.columns else pl.Series("location", [None] * frame.height,
                                                                                   pl.String)
    columns = [
        VectorData(name="location", description=descriptions.column("location"),
                   data=location.cast(pl.String).fill_null("").to_list()),
        VectorData(name="group", description="Electrode group (probe) of the channel.",
                   data=[nwbfile.electrode_groups[g] for g in groups.to_list()]),
    ]
    names = [c for c in ordered_columns(frame, "electrodes", exclude=("electrode_id",)) if c != "location"]
    columns += table_columns(frame, names=names, descriptions=descriptions, source_name="electrodes",
                             rename=_ELECTRODE_RENAMES)
    # NWB 2.9 fixes the electrodes table's description; a source's own is not written
    nwbfile.electrodes = ElectrodesTable(id=ids, columns=columns)


def electrode_rows(nwbfile: NWBFile) -> dict[int, int]:
    """Map electrode id → row index of the file's electrodes table (empty when it has none)."""
    if nwbfile.electrodes is None:
        return {}
    ids = np.asarray(nwbfile.electrodes.id.data)
    return {int(e): i for i, e in enumerate(ids)}
