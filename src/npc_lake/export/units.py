"""The units table, with spike times streamed from ``bundle.spike_batches()`` into the file.

The spike index (where each unit's train ends) is known before writing, from ``units.num_spikes`` or
from one counting pass over the spike batches. The spike times themselves (and amplitudes) are read
batch by batch while h5py writes them: a reader thread fetches the next ``PREFETCH`` batches while h5py
compresses the current one (both release the GIL for their heavy part), so at most ``PREFETCH + 2``
batches are in memory at a time (the one being written, those queued, and one waiting for room).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
import polars as pl
from hdmf.backends.hdf5 import H5DataIO
from hdmf.common import DynamicTableRegion, VectorData, VectorIndex
from hdmf.data_utils import AbstractDataChunkIterator, DataChunk
from pynwb import NWBFile
from pynwb.misc import Units

from npc_lake.errors import SessionError
from npc_lake.export._convert import Descriptions, index_array, ordered_columns, row_ids, table_columns
from npc_lake.export.ecephys import electrode_rows
from npc_lake.schema import SessionBundle, SpikeBatches, get_table

#: HDF5 chunk length of the spike_times / spike_amplitudes datasets (512 KiB of float64).
SPIKE_CHUNK_LEN = 65_536

#: Spike batches read ahead of the one being written.
PREFETCH = 2

#: Units columns written by dedicated code rather than the generic converter.
_SPECIAL = ("nwb_unit_id", "electrode_group_name", "electrodes", "waveform_mean", "waveform_sd")


class _Prefetched(Iterator[pl.DataFrame]):
    """The frames of ``source``, read by a background thread up to ``depth`` frames ahead.

    An error in the thread is raised in the consumer; a consumer that stops early stops the thread.
    """

    _DONE = object()

    def __init__(self, source: Iterator[pl.DataFrame], *, depth: int) -> None:
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._fill, args=(source,), daemon=True, name="spike-prefetch")
        self._thread.start()

    def _put(self, item: Any) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _fill(self, source: Iterator[pl.DataFrame]) -> None:
        try:
            for frame in source:
                if not self._put(frame):
                    return
        except BaseException as exc:  # handed to the consumer
            self._put(exc)
            return
        self._put(self._DONE)

    def __next__(self) -> pl.DataFrame:
        item = self._queue.get()
        if item is self._DONE:
            raise StopIteration
        if isinstance(item, BaseException):
            raise item
        return item

    def close(self) -> None:
        """Stop the reader thread (it exits at its next batch)."""
        self._stop.set()

    def __del__(self) -> None:
        self._stop.set()


class SpikeColumnChunks(AbstractDataChunkIterator):
    """One column of the spike batches (``spike_time`` or ``amplitude``), as chunks for hdmf to write.

    Checks, while writing, that the batches hold exactly the expected units in the expected order with
    the expected number of spikes each.

    Parameters
    ----------
    batches
        The bundle's spike source; called once per write.
    column
        Column of the batches to write.
    dtype
        NumPy dtype of the dataset.
    unit_ids
        ``unit_id`` of each row of the units table, in order.
    counts
        Number of spikes of each unit.
    session_id
        For error messages.
    """

    def __init__(self, batches: SpikeBatches, *, column: str, dtype: np.dtype[Any], unit_ids: list[str],
                 counts: np.ndarray[Any, Any], session_id: str) -> None:
        self._batches = batches
        self._column = column
        self._dtype = np.dtype(dtype)
        self._expected = [(u, int(c)) for u, c in zip(unit_ids, counts, strict=True) if c > 0]
        self._total = int(np.sum(counts))
        self._session_id = session_id
        self._source: Iterator[pl.DataFrame] | None = None
        self._next_unit = 0
        self._written = 0

    def __iter__(self) -> SpikeColumnChunks:
        return self

    def _fail(self, reason: str) -> SessionError:
        return SessionError(self._session_id, f"spike batches disagree with the units table: {reason}")

    def __next__(self) -> DataChunk:
        if self._source is None:
            self._source = _Prefetched(iter(self._batches()), depth=PREFETCH)
        for batch in self._source:
            if batch.height == 0:
                continue
            runs = batch["unit_id"].rle()
            for unit_id, length in zip(runs.struct.field("value").to_list(), runs.struct.field("len").to_list(),
                                       strict=True):
                if self._next_unit >= len(self._expected):
                    raise self._fail(f"unexpected spikes of unit {unit_id!r}")
                expected_id, expected_len = self._expected[self._next_unit]
                if unit_id != expected_id or length != expected_len:
                    raise self._fail(f"expected {expected_len} spikes of {expected_id!r} next, "
                                     f"got {length} of {unit_id!r}")
                self._next_unit += 1
            if self._column not in batch.columns:  # e.g. a batch without amplitudes
                values = pl.Series(self._column, [None] * batch.height, dtype=pl.Float64)
            else:
                values = batch[self._column]
            if values.null_count():
                values = values.cast(pl.Float64).fill_null(float("nan"))
            data = values.to_numpy().astype(self._dtype, copy=False)
            start = self._written
            self._written += data.shape[0]
            return DataChunk(data=data, selection=np.s_[start:self._written])
        if self._written != self._total:
            raise self._fail(f"{self._written} spikes in the batches, {self._total} in units")
        raise StopIteration

    next = __next__

    def recommended_chunk_shape(self) -> tuple[int, ...]:
        return (max(1, min(self._total, SPIKE_CHUNK_LEN)),)

    def recommended_data_shape(self) -> tuple[int, ...]:
        return (self._total,)

    @property
    def dtype(self) -> np.dtype[Any]:
        return self._dtype

    @property
    def maxshape(self) -> tuple[int, ...]:
        return (self._total,)


def _spike_counts(bundle: SessionBundle, units: pl.DataFrame) -> tuple[np.ndarray[Any, Any], np.dtype[Any] | None]:
    """Spikes per unit and the amplitude dtype (``None`` when there are no amplitudes).

    ``units.num_spikes`` is used when complete; otherwise one pass over the batches counts them. The
    amplitude dtype comes from the first non-empty batch (its ``amplitude`` column, if any value is set).
    """
    unit_ids = units["unit_id"]
    counts: np.ndarray[Any, Any] | None = None
    if "num_spikes" in units.columns and units["num_spikes"].null_count() == 0:
        counts = units["num_spikes"].cast(pl.Int64).to_numpy()
    amplitude: np.dtype[Any] | None = None
    seen: dict[str, int] = {}
    for batch in bundle.spike_batches():
        if batch.height == 0:
            continue
        if amplitude is None and "amplitude" in batch.columns and batch["amplitude"].null_count() < batch.height:
            amplitude = np.dtype("float32") if batch["amplitude"].dtype == pl.Float32 else np.dtype("float64")
        if counts is not None:
            break  # counts known: one batch was enough to see whether amplitudes exist
        for unit_id, n in batch.group_by("unit_id", maintain_order=True).len().iter_rows():
            seen[unit_id] = seen.get(unit_id, 0) + n
    if counts is None:
        unknown = set(seen) - set(unit_ids.to_list())
        if unknown:
            raise SessionError(bundle.session_id, f"spikes of units not in the units table: {sorted(unknown)[:5]}")
        counts = np.array([seen.get(u, 0) for u in unit_ids.to_list()], dtype=np.int64)
    return counts, amplitude


def _spike_columns(bundle: SessionBundle, units: pl.DataFrame) -> list[VectorData]:
    """``spike_times`` (+ ``spike_amplitudes``) columns whose data are streamed at write time."""
    counts, amplitude = _spike_counts(bundle, units)
    unit_ids = units["unit_id"].to_list()
    spec = [("spike_times", "spike_time", np.dtype("float64"), get_table("spike_times").column("spike_time"))]
    if amplitude is not None:
        spec.append(("spike_amplitudes", "amplitude", amplitude, get_table("spike_times").column("amplitude")))
    columns: list[VectorData] = []
    for name, source, dtype, declared in spec:
        if int(counts.sum()) == 0:
            data: Any = np.empty(0, dtype=dtype)
        else:
            chunks = SpikeColumnChunks(bundle.spike_batches, column=source, dtype=dtype, unit_ids=unit_ids,
                                       counts=counts, session_id=bundle.session_id)
            data = H5DataIO(data=chunks, compression="gzip", compression_opts=4, shuffle=True,
                            chunks=chunks.recommended_chunk_shape())
        description = f"{declared.description} ({declared.unit}; one list per unit)"
        target = VectorData(name=name, description=description, data=data)
        # the index goes first: hdmf's length check trips over an iterator-backed target listed before it
        columns += [VectorIndex(name=f"{name}_index", data=index_array(counts), target=target), target]
    return columns


class WaveformChunks(AbstractDataChunkIterator):
    """A ``list[list[float64]]`` units column as a (units, samples, channels) array, a few units at a time.

    Units whose waveform is null are NaN. Converting per slice keeps memory to one slice even for
    384-channel waveforms of thousands of units. One-channel waveforms are written (units, samples),
    NWB's other allowed shape and the one such sources use (the reader reads either as samples × 1).

    Parameters
    ----------
    series
        The waveform column (every non-null value ``n_samples`` × ``n_channels``).
    n_samples, n_channels
        The common shape of one waveform.
    units_per_chunk
        Units converted and written at a time.
    """

    def __init__(self, series: pl.Series, *, n_samples: int, n_channels: int, units_per_chunk: int = 64) -> None:
        self._series = series
        self._shape: tuple[int, ...] = ((series.len(), n_samples) if n_channels == 1
                                        else (series.len(), n_samples, n_channels))
        self._step = units_per_chunk
        self._start = 0

    def __iter__(self) -> WaveformChunks:
        return self

    def __next__(self) -> DataChunk:
        if self._start >= self._shape[0]:
            raise StopIteration
        start, stop = self._start, min(self._start + self._step, self._shape[0])
        self._start = stop
        part = self._series.slice(start, stop - start)
        block = np.full((stop - start, *self._shape[1:]), np.nan)
        present = part.is_not_null().to_numpy()
        if present.any():
            values = part.drop_nulls().explode().explode().cast(pl.Float64).fill_null(float("nan")).to_numpy()
            block[present] = values.reshape(int(present.sum()), *self._shape[1:])
        return DataChunk(data=block, selection=(slice(start, stop), *(slice(0, n) for n in self._shape[1:])))

    next = __next__

    def recommended_chunk_shape(self) -> tuple[int, ...]:
        return (1, *self._shape[1:])

    def recommended_data_shape(self) -> tuple[int, ...]:
        return self._shape

    @property
    def dtype(self) -> np.dtype[Any]:
        return np.dtype("float64")

    @property
    def maxshape(self) -> tuple[int, ...]:
        return self._shape


def _waveforms(units: pl.DataFrame, name: str, description: str) -> VectorData | None:
    """``waveform_mean``/``waveform_sd`` as one (units, samples, channels) dataset, or ``None``.

    Units without a waveform get NaN; the column is left out when every value is null or the
    waveforms do not share one shape (samples × channels).
    """
    if name not in units.columns or units[name].null_count() == units.height:
        return None
    present = units[name].drop_nulls()
    samples = present.list.len().unique()
    channels = present.list.eval(pl.element().list.len()).explode().unique()
    if samples.len() != 1 or channels.len() != 1 or channels.null_count() or int(samples[0]) == 0:
        return None
    chunks = WaveformChunks(units[name], n_samples=int(samples[0]), n_channels=int(channels[0]))
    data = H5DataIO(data=chunks, compression="gzip", compression_opts=4, shuffle=True,
                    chunks=chunks.recommended_chunk_shape())
    return VectorData(name=name, description=description, data=data)


def _electrodes_region(nwbfile: NWBFile, units: pl.DataFrame, bundle: SessionBundle,
                       description: str) -> list[VectorData]:
    """The ``electrodes`` DynamicTableRegion (+ index) from the units' electrode-id lists."""
    if "electrodes" not in units.columns or units["electrodes"].null_count() == units.height:
        return []
    rows = electrode_rows(nwbfile)
    if not rows:
        return []
    lists = units["electrodes"]
    lengths = lists.list.len().fill_null(0).to_numpy()
    flat = lists.filter(pl.Series(lengths > 0)).explode().to_list()
    missing = sorted({e for e in flat if e not in rows})
    if missing:
        raise SessionError(bundle.session_id, f"units.electrodes name unknown electrode ids {missing[:5]}")
    region = DynamicTableRegion(name="electrodes", data=np.array([rows[e] for e in flat], dtype=np.int64),
                                description=description, table=nwbfile.electrodes)
    return [region, VectorIndex(name="electrodes_index", data=index_array(lengths), target=region)]


def _derived(units: pl.DataFrame, session_id: str) -> tuple[str, ...]:
    """Units columns the reader derives exactly from what else is written, so they are not written.

    ``num_spikes`` always (the reader counts each unit's spikes from ``spike_times_index``, which is
    written from the same counts); ``unit_id`` when every value is ``<session_id>_<nwb_unit_id>`` and
    ``nwb_unit_id`` gives the row ids (how the reader names units of files without a ``unit_id`` column).
    """
    derived = ["num_spikes"]
    ids = units["nwb_unit_id"] if "nwb_unit_id" in units.columns else None
    if ids is not None and ids.null_count() == 0 and ids.n_unique() == ids.len():
        expected = pl.lit(f"{session_id}_") + pl.col("nwb_unit_id").cast(pl.String)
        if units.select((pl.col("unit_id") == expected).all()).item():
            derived.append("unit_id")
    return tuple(derived)


def add_units(nwbfile: NWBFile, bundle: SessionBundle) -> None:
    """Write the units table, its spike trains and waveforms.

    Row ids are ``nwb_unit_id`` when complete and unique, else 0..n-1; ``num_spikes`` and a ``unit_id`` the
    reader would derive are not written (see :func:`_derived`). ``electrode_group_name`` becomes
    the ``electrode_group`` link column (or stays a string column if any unit's group is unknown),
    ``electrodes`` a region of the electrodes table, ``waveform_mean``/``waveform_sd`` 3-D arrays
    (units × samples × channels). Spike times and amplitudes are streamed when the file is written:
    the returned file must be written exactly once.

    Parameters
    ----------
    nwbfile
        The file being built (electrode groups and electrodes already added).
    bundle
        The session; ``units``, ``column_descriptions`` and the spike batches are read.
    """
    units = bundle.table("units")
    if units is None or units.height == 0:
        return
    descriptions = Descriptions(bundle, "units")
    columns = _spike_columns(bundle, units)
    names = [c for c in ordered_columns(units, "units") if c not in (*_SPECIAL, *_derived(units, bundle.session_id))]
    columns += table_columns(units, names=names, descriptions=descriptions, source_name="units")
    if "electrode_group_name" in units.columns and units["electrode_group_name"].null_count() < units.height:
        groups = units["electrode_group_name"]
        if groups.null_count() == 0 and set(groups.to_list()) <= set(nwbfile.electrode_groups):
            columns.append(VectorData(name="electrode_group", description=descriptions.column("electrode_group_name"),
                                      data=[nwbfile.electrode_groups[g] for g in groups.to_list()]))
        else:
            columns += table_columns(units, names=["electrode_group_name"], descriptions=descriptions)
    columns += _electrodes_region(nwbfile, units, bundle, descriptions.column("electrodes"))
    for name in ("waveform_mean", "waveform_sd"):
        waveform = _waveforms(units, name, descriptions.column(name))
        if waveform is not None:
            columns.append(waveform)
    nwbfile.units = Units(
        name="units", id=row_ids(units, "nwb_unit_id", table="units", session_id=bundle.session_id),
        columns=columns, description=descriptions.table_description("units"),
        waveform_unit="microvolts", electrode_table=nwbfile.electrodes)


__all__ = ["SPIKE_CHUNK_LEN", "SpikeColumnChunks", "WaveformChunks", "add_units"]
