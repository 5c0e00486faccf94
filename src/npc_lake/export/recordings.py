"""Raw and LFP voltage streams (the ``recordings`` table) as ElectricalSeries that link to their samples.

The lake never holds samples: a ``recordings`` row says which file holds them (``data_uri``) and where
the series sits in it (``nwb_path``). Each row becomes an ElectricalSeries at the same ``nwb_path`` of the
exported file whose ``data`` is an HDF5 external link to ``<data_uri>:/<nwb_path>/data`` (likewise
``timestamps`` when the series has no rate, and ``channel_conversion`` when the source has one), so the
exported file is small and reading it reads the original samples. Links use the absolute path of
``data_uri`` (see :func:`absolute_links`), so the exported file can be moved. The reader follows such a
link and reports the linked file as ``data_uri``, which makes lake → NWB → lake exact.

Where the series goes (the last part of ``nwb_path`` is its name):

========================================  ===================================================================
``acquisition/<series>``                  directly in ``/acquisition``
``<root>/<container>/<series>``           in an ``LFP`` (kind ``lfp``) or ``FilteredEphys`` container, where
                                          ``<root>`` is ``acquisition`` or ``processing/<module>``
``processing/<module>/<series>``          directly in the processing module
anything else, or null                    ``acquisition/<recording_name>`` (raw) or
                                          ``processing/ecephys/LFP/<recording_name>`` (lfp)
========================================  ===================================================================

A row whose samples cannot be linked (``data_uri`` is not a readable HDF5 file with a dataset at
``<nwb_path>/data`` of the recorded shape, e.g. a raw Open Ephys folder) or that names no electrodes is
left out with a warning: NWB has no way to point an ElectricalSeries at samples outside HDF5.
"""

from __future__ import annotations

import os
import posixpath
import warnings
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import polars as pl
from hdmf.common import DynamicTableRegion
from hdmf.data_utils import AbstractDataChunkIterator, DataChunk
from pynwb import NWBFile
from pynwb.ecephys import LFP, ElectricalSeries, FilteredEphys

from npc_lake.errors import SessionError
from npc_lake.export._convert import check_name
from npc_lake.export.behavior import processing_module
from npc_lake.export.ecephys import electrode_rows
from npc_lake.schema import SessionBundle
from npc_lake.schema.conventions import DERIVED_SERIES_MARKER


def linked_files(bundle: SessionBundle) -> set[str]:
    """Absolute paths of the files whose samples the session's recordings link to."""
    frame = bundle.table("recordings")
    if frame is None or "data_uri" not in frame.columns:
        return set()
    return {os.path.abspath(u) for u in frame["data_uri"].drop_nulls().to_list() if "://" not in u}


def _source_series(row: dict[str, Any], opened: dict[str, h5py.File],
                   files: ExitStack | None) -> h5py.Group | None:
    """The source series group of a recordings row, opened read-only; ``None`` (after a warning) if unusable."""
    name, uri, path = row["recording_name"], row.get("data_uri"), row.get("nwb_path")
    where = f"recording {name!r}: samples at {uri}:/{path}"
    if not uri or not path or "://" in uri or not Path(uri).is_file() or not h5py.is_hdf5(uri):
        warnings.warn(f"{where} are not in a local HDF5 file; the recording is not exported", stacklevel=3)
        return None
    if uri not in opened:
        opened[uri] = h5py.File(uri, "r")
        if files is not None:
            files.enter_context(opened[uri])
    file = opened[uri]
    series = file.get(path)
    data = series.get("data") if isinstance(series, h5py.Group) else None
    if not isinstance(data, h5py.Dataset) or not data.shape:
        warnings.warn(f"{where} not found; the recording is not exported", stacklevel=3)
        return None
    expected = (row.get("n_samples"), row.get("n_channels"))
    found = (int(data.shape[0]), int(data.shape[1]) if data.ndim > 1 else 1)
    if any(e is not None and e != f for e, f in zip(expected, found, strict=True)):
        warnings.warn(f"{where} have shape {found}, the lake says {expected}; the recording is not exported",
                      stacklevel=3)
        return None
    return series


def _place(nwbfile: NWBFile, series: ElectricalSeries, parts: list[str], kind: str | None) -> None:
    """Put ``series`` into the group named by ``parts`` (the ``nwb_path`` without the series name)."""
    container_type = LFP if kind == "lfp" else FilteredEphys
    if parts == ["acquisition"]:
        nwbfile.add_acquisition(series)
        return
    if len(parts) == 2 and parts[0] == "processing":
        processing_module(nwbfile, parts[1]).add(series)
        return
    if len(parts) == 2 and parts[0] == "acquisition":
        holder, add, name = nwbfile.acquisition, nwbfile.add_acquisition, parts[1]
    else:
        module = processing_module(nwbfile, parts[1])
        holder, add, name = module.data_interfaces, module.add, parts[2]
    container = holder.get(name)
    if container is None:
        container = container_type(name=name)
        add(container)
    container.add_electrical_series(series)


def _target(row: dict[str, Any]) -> tuple[list[str], str]:
    """(group parts, series name) of a recordings row, following the table in the module docstring."""
    parts = [p for p in (row.get("nwb_path") or "").split("/") if p]
    fits = (parts[:1] == ["acquisition"] and len(parts) in (2, 3)) or (
        parts[:1] == ["processing"] and len(parts) in (3, 4))
    if fits:
        return parts[:-1], parts[-1]
    if row.get("kind") == "lfp":
        return ["processing", "ecephys", "LFP"], row["recording_name"]
    return ["acquisition"], row["recording_name"]


def add_recordings(nwbfile: NWBFile, bundle: SessionBundle, *, files: ExitStack | None = None) -> None:
    """Add one ElectricalSeries per ``recordings`` row, its samples linked from the file holding them.

    Parameters
    ----------
    nwbfile
        The file being built (electrodes already added).
    bundle
        The session; only ``recordings`` is read.
    files
        The source files are opened into this stack and must stay open until the file is written; without
        one they stay open until the NWBFile is garbage-collected.

    Raises
    ------
    SessionError
        If a recording names an electrode id that the electrodes table lacks, or a group name NWB refuses.
    """
    frame = bundle.table("recordings")
    if frame is None or frame.height == 0:
        return
    rows = electrode_rows(nwbfile)
    opened: dict[str, h5py.File] = {}
    for row in frame.sort("recording_name").iter_rows(named=True):
        ids = row.get("electrode_ids")
        if not ids or not rows:
            warnings.warn(f"recording {row['recording_name']!r} names no electrodes; it is not exported",
                          stacklevel=2)
            continue
        missing = sorted({e for e in ids if e not in rows})
        if missing:
            raise SessionError(bundle.session_id, f"recording {row['recording_name']!r} names unknown electrode "
                               f"ids {missing[:5]}")
        parts, name = _target(row)
        for part in (*parts, name):
            check_name(part, what="NWB group", session_id=bundle.session_id)
        source = _source_series(row, opened, files)
        if source is None:
            continue
        width = source["data"].shape[1] if source["data"].ndim > 1 else 1
        if width != len(ids):
            warnings.warn(f"recording {row['recording_name']!r}: its samples have {width} channels for "
                          f"{len(ids)} electrodes (NWB requires one per electrode); the recording is not "
                          "exported", stacklevel=2)
            continue
        region = DynamicTableRegion(name="electrodes", data=np.array([rows[e] for e in ids], dtype=np.int64),
                                    description="Electrodes (channels) of the recording, in data column order.",
                                    table=nwbfile.electrodes)
        kwargs: dict[str, Any] = {"description": row.get("description") or "no description"}
        rate = row.get("rate")
        if rate is not None and np.isfinite(rate):
            kwargs.update(rate=float(rate), starting_time=float(row.get("starting_time") or 0.0))
        elif isinstance(source.get("timestamps"), h5py.Dataset):
            kwargs["timestamps"] = source["timestamps"]
        else:
            warnings.warn(f"recording {row['recording_name']!r} has neither rate nor timestamps; not exported",
                          stacklevel=2)
            continue
        if row.get("conversion") is not None:
            kwargs["conversion"] = float(row["conversion"])
        if isinstance(row.get("filtering"), str) and row["filtering"]:
            kwargs["filtering"] = row["filtering"]
        if isinstance(source.get("channel_conversion"), h5py.Dataset):
            kwargs["channel_conversion"] = source["channel_conversion"]
        _place(nwbfile, ElectricalSeries(name=name, data=source["data"], electrodes=region, **kwargs), parts,
               row.get("kind"))


class _FilteredChunks(AbstractDataChunkIterator):
    """Blocks of filtered samples as hdmf DataChunks, written one after the other (memory stays bounded)."""

    def __init__(self, blocks: Iterator[np.ndarray[Any, Any]], shape: tuple[int, int]) -> None:
        self._blocks, self._shape, self._position = blocks, shape, 0

    def __iter__(self) -> _FilteredChunks:
        return self

    def __next__(self) -> DataChunk:
        block = next(self._blocks)
        selection = np.s_[self._position:self._position + block.shape[0], :]
        self._position += block.shape[0]
        return DataChunk(data=block, selection=selection)

    def recommended_chunk_shape(self) -> tuple[int, int]:
        return (min(self._shape[0], 10_000), self._shape[1])

    def recommended_data_shape(self) -> tuple[int, int]:
        return self._shape

    @property
    def dtype(self) -> np.dtype[Any]:
        return np.dtype(np.float32)

    @property
    def maxshape(self) -> tuple[int, int]:
        return self._shape


def add_filtered_lfp(nwbfile: NWBFile, bundle: SessionBundle, *, band: tuple[float, float],
                     files: ExitStack | None = None) -> list[str]:
    """Add a band-passed copy of every LFP recording whose samples are reachable (a local HDF5 file).

    Each goes to ``processing/ecephys/FilteredEphys/<recording_name>_<low>-<high>Hz``, with the recording's
    electrodes, rate, conversion and channel conversion, filtered by :func:`npc_lake.analysis.lfp.bandpass_kernel`
    (zero phase) chunk by chunk. Its ``comments`` start with :data:`DERIVED_SERIES_MARKER`, so re-ingesting the file
    does not take it for a recording.

    Returns
    -------
    list of str
        Names of the series added.
    """
    from npc_lake.analysis.lfp import bandpass_chunks, bandpass_kernel

    frame = bundle.table("recordings")
    if frame is None or frame.height == 0:
        return []
    added = []
    opened: dict[str, h5py.File] = {}
    for row in frame.filter(pl.col("kind") == "lfp").sort("recording_name").iter_rows(named=True):
        source = _source_series(row, opened, files)
        rate = row.get("rate")
        linked = next((o for o in nwbfile.objects.values()  # wherever add_recordings placed it
                       if isinstance(o, ElectricalSeries) and o.name == row["recording_name"]), None)
        if source is None or rate is None or not np.isfinite(rate) or not isinstance(linked, ElectricalSeries):
            warnings.warn(f"recording {row['recording_name']!r}: no exported LFP series with a rate and reachable "
                          "samples; no filtered copy", stacklevel=2)
            continue
        data = source["data"]
        shape = (int(data.shape[0]), int(data.shape[1]) if data.ndim > 1 else 1)
        kernel = bandpass_kernel(band, rate=float(rate))
        name = f"{row['recording_name']}_{band[0]:g}-{band[1]:g}Hz"
        series = ElectricalSeries(
            name=name, data=_FilteredChunks(bandpass_chunks(data, kernel), shape), electrodes=linked.electrodes,
            rate=float(rate), starting_time=float(row.get("starting_time") or 0.0),
            conversion=float(row["conversion"]) if row.get("conversion") is not None else 1.0,
            filtering=f"zero-phase FIR band-pass {band[0]:g}-{band[1]:g} Hz (Blackman-windowed sinc, "
                      f"{kernel.size} taps) of {row.get('nwb_path') or row['recording_name']}",
            description=f"{row['recording_name']} band-passed to {band[0]:g}-{band[1]:g} Hz.",
            comments=f"{DERIVED_SERIES_MARKER} filtered at export from {row.get('nwb_path') or row['recording_name']}",
            **({"channel_conversion": source["channel_conversion"]}
               if isinstance(source.get("channel_conversion"), h5py.Dataset) else {}))
        module = processing_module(nwbfile, "ecephys")
        container = module.data_interfaces.get("FilteredEphys")
        if container is None:
            container = FilteredEphys(name="FilteredEphys")
            module.add(container)
        container.add_electrical_series(series)
        added.append(name)
    return added


def absolute_links(path: str | os.PathLike[str]) -> None:
    """Rewrite every external link of the ElectricalSeries in ``path`` to the absolute path of its file.

    hdmf writes links relative to the new file's folder; absolute ones keep working when the exported
    file is moved, and name the same file that ``recordings.data_uri`` names.
    """
    with h5py.File(path, "r+") as file:
        make_links_absolute(file, folder=os.path.dirname(os.path.abspath(path)))


def make_links_absolute(file: h5py.File, *, folder: str) -> None:
    """In an open, writable ``file``, point relative external links (relative to ``folder``) at absolute paths."""
    groups: list[h5py.Group] = []
    file.visititems(lambda _, node: groups.append(node) if isinstance(node, h5py.Group) else None)
    for group in groups:
        for member in ("data", "timestamps", "channel_conversion"):
            link = group.get(member, getlink=True)
            if isinstance(link, h5py.ExternalLink) and not posixpath.isabs(link.filename):
                target = os.path.normpath(os.path.join(folder, link.filename))
                del group[member]
                group[member] = h5py.ExternalLink(target, link.path)

