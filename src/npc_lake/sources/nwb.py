"""Read any NWB 2.x file into the lake's tables, without pynwb, as a :class:`SessionBundle`.

Two layouts are read, local or on S3: HDF5 files (with h5py) and NWB-Zarr stores (``.nwb.zarr`` folders as
hdmf-zarr writes them, through :mod:`npc_lake.sources.zarr_tree`, which offers the h5py API the readers
use). The same session in either layout gives the same rows.

The source is checked before anything is read: it must exist, be HDF5 (signature) or a Zarr store
(``.zgroup``), have an NWB root (``nwb_version`` attribute) and be NWB 2.x. Every read failure (a corrupt
or truncated file, a damaged chunk) becomes a :class:`~npc_lake.errors.SourceError` naming the source.

Mapping (see the table declarations in :mod:`npc_lake.schema` for the columns):

=====================  ============================================================================
lake table             NWB source
=====================  ============================================================================
sessions               ``/`` and ``/general`` fields, root ``nwb_version``, epoch names
subjects               ``/general/subject`` (no row without a subject_id)
devices                ``/general/devices/*``
electrode_groups       ElectrodeGroups in ``/general/extracellular_ephys``
electrodes             ``/general/extracellular_ephys/electrodes``
units                  ``/units`` without spike_times / spike_amplitudes (streamed by ``spike_batches``)
trials, epochs         ``/intervals/trials``, ``/intervals/epochs``
intervals              every other TimeIntervals table (``/intervals/*``, incl. invalid_times)
events                 BehavioralEvents series, ndx-events types, EventsTable/TtlsTable
timeseries             every other numeric TimeSeries in acquisition/ and processing/
recordings             ElectricalSeries (where the samples are; samples never read)
column_descriptions    descriptions of every table read and of its columns
=====================  ============================================================================
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import polars as pl

from npc_lake.errors import InvalidIdError, SourceError, storage_reason
from npc_lake.schema import SessionBundle, SpikeBatches
from npc_lake.schema.bundle import no_spikes
from npc_lake.schema.conventions import STIMULI_SCRATCH
from npc_lake.schema.ids import derive_session_id, validate_id
from npc_lake.sources import nwb_general, nwb_tables
from npc_lake.sources.hdf5_tables import (
    SourceWarning,
    as_text,
    is_dataset,
    is_dynamic_table,
    neurodata_type,
    read_raw,
    read_table,
    warn,
)
from npc_lake.sources.nwb_series import read_series_tables
from npc_lake.sources.remote import RangeReader, is_remote, is_remote_zarr, remote_info, s3_location
from npc_lake.sources.zarr_tree import DamagedChunkError, UnsafePickleError, ZarrFile, open_zarr

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
NWB1_ADVICE = ("NWB 1.x is not supported; convert the file to NWB 2.x first (for example by re-exporting "
               "the original data with pynwb or neuroconv) and ingest the converted file")


def _is_read_error(exc: BaseException) -> bool:
    if isinstance(exc, (OSError, RuntimeError, UnsafePickleError, DamagedChunkError, zlib.error)):
        return True
    if type(exc).__module__.split(".")[0] in ("zarr", "numcodecs", "json"):  # damaged Zarr metadata or chunks
        return True
    return isinstance(exc, KeyError) and "Unable to" in str(exc)


@contextmanager
def guard(uri: str, doing: str = "reading") -> Iterator[None]:
    """Turn a read failure of the file or store inside the block into a :class:`SourceError` naming ``uri``."""
    try:
        yield
    except (OSError, RuntimeError, KeyError, ValueError, zlib.error) as exc:
        if not _is_read_error(exc):
            raise
        kind = "Zarr" if is_zarr(uri) else "HDF5"
        reason = storage_reason(exc) if is_remote(uri) else str(exc)  # one line, no credentials
        raise SourceError(uri, f"{kind} error while {doing} (corrupt or truncated file?): {reason}") from exc


def _signature_in(handle: Any) -> bool:
    """Whether the HDF5 signature is at byte 0, 512, 1024, 2048, … of a seekable binary file."""
    size = handle.seek(0, 2)
    offset = 0
    while offset + 8 <= size:
        handle.seek(offset)
        if handle.read(8) == HDF5_SIGNATURE:
            return True
        offset = 512 if offset == 0 else offset * 2
    return False


def has_hdf5_signature(path: Path) -> bool:
    """Whether the HDF5 signature is at byte 0, 512, 1024, 2048, … (HDF5 allows a user block)."""
    with path.open("rb") as fh:
        return _signature_in(fh)


def is_zarr(uri: str) -> bool:
    """Whether ``uri`` names a Zarr store (a folder or S3 prefix holding ``.zgroup``), not an HDF5 file."""
    if is_remote(uri):
        return is_remote_zarr(uri)
    return (Path(uri) / ".zgroup").is_file()


def open_h5(uri: str) -> h5py.File:
    """Open a local path or an ``s3://`` object (read in cached ranges) as an HDF5 file, read-only."""
    if is_remote(uri):
        return h5py.File(RangeReader(uri), "r")
    return h5py.File(uri, "r")


def open_nwb(uri: str) -> h5py.File | ZarrFile:
    """Open an NWB source read-only: an HDF5 file or a Zarr store, local or ``s3://``."""
    if not is_zarr(uri):
        return open_h5(uri)
    if is_remote(uri):
        filesystem, location = s3_location(uri)
        return open_zarr(location, filesystem=filesystem, name=uri)
    return open_zarr(uri)


def check_file(uri: str) -> None:
    """Refuse sources that are neither HDF5 files nor Zarr stores, before they are opened."""
    if is_remote(uri):
        if is_remote_zarr(uri):
            return
        if remote_info(uri).size == 0:
            raise SourceError(uri, "object is empty")
        with RangeReader(uri) as reader:
            signed = _signature_in(reader)
        if not signed:
            raise SourceError(uri, "not an HDF5 file (no HDF5 signature) nor a Zarr store; NWB files are either")
        return
    if "://" in uri:
        raise SourceError(uri, "only local paths and s3:// objects can be read")
    path = Path(uri)
    if not path.exists():
        raise SourceError(uri, "file does not exist")
    if path.is_dir():
        if not is_zarr(uri):
            raise SourceError(uri, "is a folder but not a Zarr store (no .zgroup); not an NWB file or NWB-Zarr store")
        return
    if path.stat().st_size == 0:
        raise SourceError(uri, "file is empty")
    if not has_hdf5_signature(path):
        raise SourceError(uri, "not an HDF5 file (no HDF5 signature); NWB files are HDF5 files or Zarr stores")


def nwb_version(file: Any) -> str:
    """The NWB version of an open file; refuses non-NWB HDF5 files and NWB 1.x."""
    uri = str(file.filename)
    version = as_text(file.attrs.get("nwb_version"))
    legacy = file.get("nwb_version")
    if is_dataset(legacy):
        raise SourceError(uri, f"{NWB1_ADVICE} (the file says {as_text(read_raw(file, 'nwb_version'))!r})")
    if version is None:
        raise SourceError(uri, "not an NWB file: its root has no 'nwb_version' attribute")
    bare = version.removeprefix("NWB-").removeprefix("NWB").strip()
    if bare.startswith("1."):
        raise SourceError(uri, f"{NWB1_ADVICE} (the file says {version!r})")
    if not bare.startswith("2."):
        warn(f"{uri}: NWB version {version!r} is not 2.x; reading it as NWB 2")
    if neurodata_type(file) not in (None, "NWBFile"):
        warn(f"{uri}: root neurodata_type is {neurodata_type(file)!r}, expected 'NWBFile'")
    return version


def _session_id(file: Any, explicit: str | None) -> str:
    uri = str(file.filename)
    meta = nwb_general.root_metadata(file)
    start_text = meta["session_start_text"]
    try:
        local_start = datetime.fromisoformat(start_text.strip()) if start_text else None
    except ValueError:
        local_start = None
    if local_start is None:
        raise SourceError(uri, f"session_start_time {start_text!r} is missing or not an ISO 8601 time")
    if explicit is not None:
        return validate_id(explicit)
    own = meta["nwb_session_id"]
    if own:
        try:
            validate_id(own)
        except InvalidIdError as exc:
            warn(f"{uri}: the file's session_id is not usable ({exc}); deriving one from subject and date")
    try:
        return validate_id(derive_session_id(
            session_id=meta["nwb_session_id"], subject_id=meta["subject_id"], session_start_time=local_start,
            identifier=meta["identifier"]))
    except InvalidIdError as exc:
        raise SourceError(uri, f"{exc}; pass session_id= explicitly") from exc


def _spike_batches(uri: str, session_id: str, unit_ids: list[str], *, amplitudes: bool,
                   batch_units: int) -> SpikeBatches:
    """A re-callable spike stream: each call reopens the file and yields ``batch_units`` units per frame."""

    def batches() -> Iterator[pl.DataFrame]:
        with guard(uri, "reading spike times"), open_nwb(uri) as file:
            units = file["units"]
            ends = np.asarray(units["spike_times_index"][()], dtype=np.int64)
            starts = np.concatenate([np.zeros(1, dtype=np.int64), ends[:-1]])
            times_ds = units["spike_times"]
            amps_ds = units["spike_amplitudes"] if amplitudes else None
            for first in range(0, len(ends), batch_units):
                last = min(len(ends), first + batch_units)
                lo, hi = int(starts[first]), int(ends[last - 1])
                counts = ends[first:last] - starts[first:last]
                ids = pl.Series(unit_ids[first:last], dtype=pl.String)
                amp = (pl.Series("amplitude", np.asarray(amps_ds[lo:hi], dtype=np.float32))
                       if amps_ds is not None else pl.repeat(None, hi - lo, dtype=pl.Float32, eager=True))
                frame = pl.DataFrame({
                    "unit_id": ids.gather(np.repeat(np.arange(last - first), counts)),
                    "spike_time": np.asarray(times_ds[lo:hi], dtype=np.float64),
                    "amplitude": amp,
                })
                yield frame.select(pl.lit(session_id, dtype=pl.String).alias("session_id"), pl.all())

    return batches


class NwbSource:
    """One NWB 2.x file (HDF5) or store (Zarr) as a source of one session.

    Parameters
    ----------
    path
        The NWB file or ``.nwb.zarr`` store, local or ``s3://``.
    session_id
        Lake session id to use; by default derived from the file (general/session_id, subject and
        start date, or identifier).
    spike_batch_units
        Units per frame yielded by the bundle's ``spike_batches``.
    """

    format_name = "nwb"

    def __init__(self, path: str | os.PathLike[str], *, session_id: str | None = None,
                 spike_batch_units: int = 50) -> None:
        self.uri = os.fspath(path)
        self._session_id = validate_id(session_id) if session_id is not None else None
        if spike_batch_units < 1:
            raise ValueError("spike_batch_units must be at least 1")
        self.spike_batch_units = spike_batch_units

    @classmethod
    def can_read(cls, path: str | os.PathLike[str]) -> bool:
        """Whether ``path`` is an HDF5 file or Zarr store with an NWB 2.x root (never raises)."""
        try:
            check_file(os.fspath(path))
            with open_nwb(os.fspath(path)) as file:
                nwb_version(file)
        except (SourceError, OSError, RuntimeError, KeyError, ValueError):
            return False
        return True

    def _open(self) -> h5py.File | ZarrFile:
        check_file(self.uri)
        with guard(self.uri, "opening the file"):
            return open_nwb(self.uri)

    @property
    def session_id(self) -> str:
        """The lake session id of this file (checks the file when it has to be derived)."""
        if self._session_id is None:
            with self._open() as file, guard(self.uri):
                nwb_version(file)
                self._session_id = _session_id(file, None)
        return self._session_id

    def read(self) -> SessionBundle:
        """Read every table of the file (spikes as a re-callable stream)."""
        with self._open() as file, guard(self.uri):
            nwb_version(file)
            session_id = _session_id(file, self._session_id)
            self._session_id = session_id
            tables, spikes = self._read_tables(file, session_id)
        return SessionBundle(session_id=session_id, source_uri=self.uri, tables=tables, spike_batches=spikes)

    def _read_tables(self, file: Any, session_id: str) -> tuple[dict[str, pl.DataFrame], SpikeBatches]:
        uri = self.uri
        tables: dict[str, pl.DataFrame] = {}
        described = nwb_tables.Described()

        def put(name: str, frame: pl.DataFrame | None) -> None:
            if frame is not None:
                declared = nwb_tables.DECLARED.get(name)
                tables[name] = (nwb_tables.label_session(frame, declared, session_id=session_id)
                                if declared is not None else frame)

        region_ids: dict[str, np.ndarray] = {}
        electrodes = nwb_tables.electrodes_frame(file)
        if electrodes is not None:
            data, frame, renames = electrodes
            region_ids[data.path] = frame["electrode_id"].to_numpy()
            described.add("electrodes", data, renames, frame.columns)
            put("electrodes", frame)
        spikes: SpikeBatches = no_spikes
        units = nwb_tables.units_frame(file, session_id=session_id, region_ids=region_ids)
        if units is not None:
            described.add("units", units.data, units.renames, units.frame.columns)
            put("units", units.frame)
            if units.has_spikes and units.unit_ids:
                spikes = _spike_batches(uri, session_id, units.unit_ids, amplitudes=units.has_amplitudes,
                                        batch_units=self.spike_batch_units)
        series = read_series_tables(file, data_uri=uri, region_ids=region_ids)
        epochs: list[str | None] | None = None
        parts: list[tuple[str, pl.DataFrame]] = []
        taken: set[str] = set()
        for group in nwb_tables.time_intervals(file, series.interval_groups):
            data, frame = nwb_tables.interval_frame(group, region_ids=region_ids)
            if group.name == "/intervals/trials":
                frame, renames = nwb_tables.trials_frame(data)
                described.add("trials", data, renames, frame.columns)
                put("trials", frame)
            elif group.name == "/intervals/epochs":
                frame = nwb_tables.epochs_frame(data)
                described.add("epochs", data, {"id": "epoch_index"}, frame.columns)
                put("epochs", frame)
                epochs = nwb_tables.epoch_names(frame)
            else:
                name = nwb_tables.interval_name(group, taken)
                described.add("intervals", data, {"id": "interval_index"}, frame.columns)
                parts.append((name, frame))
        if parts:
            put("intervals", nwb_tables.intervals_frame(parts, uri=uri))
        subjects = nwb_general.subjects_frame(file, session_id=session_id)
        subject_id = subjects["subject_id"][0] if subjects is not None else None
        put("sessions", nwb_general.sessions_frame(file, session_id=session_id, source_uri=uri,
                                                   subject_id=subject_id, epochs=epochs))
        put("subjects", subjects)
        put("devices", nwb_general.devices_frame(file, session_id=session_id))
        put("electrode_groups", nwb_general.electrode_groups_frame(file, session_id=session_id))
        for name in ("events", "timeseries", "recordings"):
            frame = getattr(series, name)
            put(name, frame.select(pl.lit(session_id).alias("session_id"), pl.all()) if frame is not None else None)
        stimuli = file.get(f"scratch/{STIMULI_SCRATCH}")  # written by npc_lake's export (stimulus definitions)
        if is_dynamic_table(stimuli):  # it writes a missing number as NaN; no definition is NaN
            frame = read_table(stimuli).frame.drop("id")
            put("stimuli", frame.with_columns(pl.col(pl.Float64).fill_nan(None)))
        put("column_descriptions", described.frame(session_id))
        return tables, spikes


def read_nwb(path: str | os.PathLike[str], *, session_id: str | None = None,
             spike_batch_units: int = 50) -> SessionBundle:
    """Read an NWB 2.x file (HDF5) or store (Zarr) into a :class:`~npc_lake.schema.SessionBundle`.

    Parameters
    ----------
    path
        The NWB file or ``.nwb.zarr`` store: a local path or ``s3://`` (read in ranges or by chunk, never
        downloaded whole).
    session_id
        Lake session id to use instead of the one derived from the file.
    spike_batch_units
        Units per spike-times frame yielded by ``bundle.spike_batches()``.

    Returns
    -------
    SessionBundle
        Frames keyed by lake table name, and a re-callable spike stream.

    Raises
    ------
    SourceError
        When the source does not exist, is neither HDF5 nor Zarr, is corrupt or truncated, is not NWB, or is
        NWB 1.x.
    """
    return NwbSource(path, session_id=session_id, spike_batch_units=spike_batch_units).read()


__all__ = ["NwbSource", "SourceWarning", "read_nwb"]
