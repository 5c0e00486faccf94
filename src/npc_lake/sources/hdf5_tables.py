"""Read HDMF-style objects from an open NWB file: scalars, strings, references and DynamicTables.

The file is an h5py file (NWB HDF5) or a :class:`~npc_lake.sources.zarr_tree.ZarrFile` (NWB-Zarr), which
offers the same small API; the helpers below (``is_group``, ``is_dataset``, ``holds_text``, …) are the only
places that tell the two apart.

HDMF stores a ``DynamicTable`` as an HDF5 group whose ``colnames`` attribute lists its columns. Each column
is a ``VectorData`` dataset; a ragged column ``c`` has a ``c_index`` dataset of cumulative end offsets (and
``c_index_index`` for a doubly ragged one); row ids are the ``id`` (``ElementIdentifiers``) dataset; a
``DynamicTableRegion`` column holds row numbers into the table named by its ``table`` reference attribute.
This module turns such a group into a Polars frame without any NWB/HDMF library.

Only this module and :mod:`npc_lake.sources.nwb` use h5py.
"""

from __future__ import annotations

import posixpath
import warnings
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeGuard

import h5py
import numpy as np
import polars as pl
import pyarrow as pa

from npc_lake.sources.zarr_tree import ZarrDataset, ZarrGroup, ZarrLink, ZarrRef

#: attributes that describe HDMF bookkeeping rather than data
BOOKKEEPING_ATTRS = frozenset({"namespace", "neurodata_type", "object_id", "help", ".specloc", "colnames"})


class SourceWarning(UserWarning):
    """Something in a source file was skipped or could not be mapped (the rest was read)."""


def warn(message: str) -> None:
    """Emit a :class:`SourceWarning` pointing at the caller of the reader."""
    warnings.warn(message, SourceWarning, stacklevel=3)


class UnsupportedColumnError(Exception):
    """A column whose storage cannot be turned into a frame column (the reason is the message)."""


def is_group(node: Any) -> TypeGuard[Any]:
    """Whether ``node`` is a group (HDF5 or Zarr)."""
    return isinstance(node, (h5py.Group, ZarrGroup))


def is_dataset(node: Any) -> TypeGuard[Any]:
    """Whether ``node`` is a dataset (HDF5 or Zarr)."""
    return isinstance(node, (h5py.Dataset, ZarrDataset))


def is_reference(value: Any) -> bool:
    """Whether ``value`` is an object reference (HDF5 or Zarr)."""
    return isinstance(value, (h5py.Reference, ZarrRef))


def holds_text(ds: Any) -> bool:
    """Whether a dataset's values are strings."""
    if isinstance(ds, ZarrDataset):
        return ds.holds_text
    return h5py.check_string_dtype(ds.dtype) is not None


def reference_kind(ds: Any) -> str | None:
    """``"object"`` or ``"region"`` for a dataset of references, else ``None``."""
    if isinstance(ds, ZarrDataset):
        return "object" if ds.holds_references else None
    kind = h5py.check_ref_dtype(ds.dtype)
    if kind is None:
        return None
    return "object" if kind is h5py.Reference else "region"


def compound_has_references(ds: Any) -> bool:
    """Whether a compound dataset has a reference field (e.g. TimeSeriesReferenceVectorData)."""
    if isinstance(ds, ZarrDataset):
        return ds.compound_has_references
    return any(h5py.check_ref_dtype(ds.dtype.fields[f][0]) is not None for f in ds.dtype.names)


def external_link(group: Any, name: str) -> tuple[str, str] | None:
    """``(file, path)`` when member ``name`` of ``group`` is a link into another file, else ``None``."""
    link = group.get(name, getlink=True)
    if isinstance(link, h5py.ExternalLink) or (isinstance(link, ZarrLink) and link.external):
        return str(link.filename), str(link.path)
    return None


def decode(value: Any) -> Any:
    """Turn bytes into str and NumPy scalars/0-d arrays into Python values; other values pass through."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if isinstance(value, h5py.Empty):
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, np.generic):
        return value.item()
    return value


def neurodata_type(node: Any) -> str | None:
    """The ``neurodata_type`` attribute of an HDF5 object, or ``None``."""
    value = decode(node.attrs.get("neurodata_type"))
    return value if isinstance(value, str) else None


def read_raw(node: Any, name: str) -> Any:
    """Value of the dataset ``name`` in group ``node``, else of its attribute ``name``, else ``None``.

    Strings are decoded; arrays become lists; h5py references are returned as they are.
    """
    child = node.get(name) if is_group(node) else None
    if is_dataset(child):
        value = child.asstr(errors="replace")[()] if holds_text(child) else child[()]
    elif name in node.attrs:
        value = node.attrs[name]
    else:
        return None
    if isinstance(value, np.ndarray) and value.ndim > 0:
        return [decode(v) for v in value.ravel()]
    return decode(value)


def as_text(value: Any) -> str | None:
    """A value as one string: ``""`` and missing become ``None``; a list of one becomes its element."""
    if isinstance(value, list):
        items = [s for s in (as_text(v) for v in value) if s is not None]
        return "; ".join(items) if items else None
    value = decode(value)
    if value is None or is_reference(value):
        return None
    text = value if isinstance(value, str) else str(value)
    return text if text.strip() else None


def as_text_list(value: Any) -> list[str] | None:
    """A value as a list of non-empty strings, or ``None`` when there is none."""
    items = value if isinstance(value, list) else [value]
    texts = [s for s in (as_text(v) for v in items) if s is not None]
    return texts or None


def text(node: Any, name: str) -> str | None:
    """Dataset or attribute ``name`` of ``node`` as text (``None`` when absent or empty)."""
    return as_text(read_raw(node, name))


def ref_path(file: Any, ref: Any) -> str | None:
    """Path of the object an object reference points to (``None`` for a null/broken/external reference)."""
    if isinstance(ref, ZarrRef):
        return ref.path if ref and ref.source in (None, "", ".") else None
    if not isinstance(ref, h5py.Reference) or not ref:
        return None
    try:
        name = h5py.h5r.get_name(ref, file.id)
    except (ValueError, KeyError, RuntimeError):
        return None
    return decode(name) if name else None


def ref_name(file: Any, ref: Any) -> str | None:
    """Name (last path component) of the object an object reference points to."""
    path = ref_path(file, ref)
    return posixpath.basename(path) if path else None


def link_target_name(group: Any, name: str) -> str | None:
    """Name of the object that member ``name`` of ``group`` links to (soft link, hard link or reference attr)."""
    link = group.get(name, getlink=True)
    if isinstance(link, (h5py.SoftLink, h5py.ExternalLink, ZarrLink)):
        return posixpath.basename(link.path.rstrip("/"))
    if link is not None:
        target = group.get(name)
        if target is not None:
            return posixpath.basename((target.name or "").rstrip("/")) or None
    return ref_name(group.file, group.attrs.get(name))


# ---------------------------------------------------------------------------------------------- arrays


def _native(data: np.ndarray) -> np.ndarray:
    """Native byte order, and float16 widened (Arrow/Polars handle it poorly)."""
    if data.dtype == np.float16:
        return data.astype(np.float32)
    if data.dtype.byteorder not in ("=", "|"):
        return data.astype(data.dtype.newbyteorder("="))
    return data


def nest(flat: pa.Array, shape: tuple[int, ...]) -> pa.Array:
    """Wrap ``flat`` (C-order values of an array of ``shape``) into nested lists along ``shape[1:]``."""
    arr = flat
    for axis in range(len(shape) - 1, 0, -1):
        n_outer = int(np.prod(shape[:axis], dtype=np.int64))
        offsets = pa.array(np.arange(n_outer + 1, dtype=np.int64) * shape[axis])
        arr = pa.LargeListArray.from_arrays(offsets, arr)
    return arr


def ragged(values: pa.Array, index: np.ndarray) -> pa.Array:
    """Split ``values`` into one list per row from a VectorIndex (cumulative end offsets)."""
    ends = np.asarray(index, dtype=np.int64).ravel()
    offsets = np.concatenate([np.zeros(1, dtype=np.int64), ends])
    if (np.diff(offsets) < 0).any() or (len(ends) and ends[-1] > len(values)):
        raise UnsupportedColumnError("its index is not a valid cumulative offset array")
    return pa.LargeListArray.from_arrays(pa.array(offsets), values)


def dataset_array(ds: Any, *, resolve_refs: bool = False,
                  region_ids: Mapping[str, np.ndarray] | None = None) -> pa.Array:
    """Read a whole dataset into an Arrow array (one element per first-axis entry; extra axes nested).

    Parameters
    ----------
    ds
        An h5py dataset.
    resolve_refs
        Turn object references into the referenced objects' names; otherwise they are unsupported.
    region_ids
        Row ids of tables by HDF5 path: the row numbers of a DynamicTableRegion into one of these tables
        become the target rows' ids.

    Raises
    ------
    UnsupportedColumnError
        For region references, compound types with references, references (unless resolved) and
        types with no Arrow equivalent.
    """
    dtype = ds.dtype
    shape = tuple(int(s) for s in ds.shape) or (1,)
    references = reference_kind(ds)
    if holds_text(ds):
        data = np.asarray(ds.asstr(errors="replace")[()], dtype=object)
        flat = pa.array(data.ravel().tolist(), type=pa.large_string())
    elif references is not None:
        if references != "object":
            raise UnsupportedColumnError("it holds region references")
        if not resolve_refs:
            raise UnsupportedColumnError("it holds object references")
        data = np.asarray(ds[()], dtype=object)
        flat = pa.array([ref_name(ds.file, r) for r in data.ravel()], type=pa.large_string())
    elif dtype.names:
        if compound_has_references(ds):
            raise UnsupportedColumnError("it holds references to other objects (e.g. TimeSeriesReferenceVectorData)")
        data = np.asarray(ds[()]).ravel()
        flat = pa.StructArray.from_arrays(
            [_plain_array(data[f]) for f in dtype.names], names=list(dtype.names))
    elif dtype.kind == "O" or h5py.check_vlen_dtype(dtype) is not None:
        data = np.asarray(ds[()], dtype=object).ravel()
        flat = pa.array([None if v is None else _native(np.asarray(v)).tolist() for v in data])
    elif dtype.kind in "biuf":
        data = _native(np.asarray(ds[()]))
        if region_ids is not None and neurodata_type(ds) == "DynamicTableRegion":
            data = map_region(ds, data, region_ids)
        flat = pa.array(data.ravel())
    else:
        raise UnsupportedColumnError(f"its dtype {dtype} has no tabular equivalent")
    return nest(flat, shape)


def _plain_array(data: np.ndarray) -> pa.Array:
    if data.dtype.kind in "SO":
        return pa.array([decode(v) for v in data], type=pa.large_string())
    return pa.array(_native(data))


def map_region(ds: Any, rows: np.ndarray, region_ids: Mapping[str, np.ndarray]) -> np.ndarray:
    """Map DynamicTableRegion row numbers to the target table's ids when the target is known."""
    target = ref_path(ds.file, ds.attrs.get("table"))
    ids = region_ids.get(target) if target else None
    if ids is None:
        return rows
    rows = rows.astype(np.int64, copy=False)
    if rows.size and (rows.min() < 0 or rows.max() >= len(ids)):
        warn(f"{ds.file.filename}: {ds.name} points past the end of {target}; kept row numbers")
        return rows
    return np.asarray(ids, dtype=np.int64)[rows]


# ---------------------------------------------------------------------------------------------- tables


@dataclass
class TableData:
    """A DynamicTable read into a frame.

    ``frame`` starts with ``id`` (the ElementIdentifiers, int64) followed by the columns in ``colnames``
    order, then columns present in the group but missing from ``colnames``.
    """

    name: str
    path: str
    neurodata_type: str | None
    description: str | None
    frame: pl.DataFrame
    column_descriptions: dict[str, str] = field(default_factory=dict)


def is_dynamic_table(node: Any) -> bool:
    """Whether ``node`` is a group laid out as an HDMF DynamicTable."""
    return is_group(node) and ("colnames" in node.attrs or (
        is_dataset(node.get("id")) and neurodata_type(node.get("id")) == "ElementIdentifiers"))


def table_column_names(group: Any) -> list[str]:
    """Column names of a DynamicTable: ``colnames`` first, then other VectorData members."""
    names = [decode(c) for c in np.atleast_1d(group.attrs.get("colnames", np.array([], dtype=object)))]
    names = [n for n in names if isinstance(n, str)]
    for member, child in group.items():
        if member in names or member == "id" or not is_dataset(child):
            continue
        kind = neurodata_type(child)
        if kind not in (None, "VectorIndex", "ElementIdentifiers"):
            names.append(member)
    return names


def column_array(group: Any, name: str, *, resolve_refs: bool = False,
                 region_ids: Mapping[str, np.ndarray] | None = None) -> pa.Array:
    """One column of a DynamicTable, with its ``_index`` levels applied (one element per row)."""
    values = dataset_array(group[name], resolve_refs=resolve_refs, region_ids=region_ids)
    level = f"{name}_index"
    while is_dataset(group.get(level)):
        values = ragged(values, group[level][()])
        level = f"{level}_index"
    return values


def read_table(group: Any, *, skip: Collection[str] = (), ref_columns: Collection[str] = (),
               region_ids: Mapping[str, np.ndarray] | None = None) -> TableData:
    """Read a DynamicTable group into a :class:`TableData`.

    Parameters
    ----------
    group
        The h5py group of the table.
    skip
        Columns not to read (e.g. ``spike_times``, which is streamed instead).
    ref_columns
        Object-reference columns to turn into the names of the referenced objects. Other reference
        columns are dropped with a :class:`SourceWarning`.
    region_ids
        Row ids of tables by HDF5 path, for mapping DynamicTableRegion columns to ids.
    """
    where = f"{group.file.filename}: {group.name}"
    ids_ds = group.get("id")
    columns: dict[str, pa.Array] = {}
    descriptions: dict[str, str] = {}
    names = [n for n in table_column_names(group) if n not in skip]
    if is_dataset(ids_ds):
        n_rows = int(ids_ds.shape[0]) if ids_ds.shape else 1
        ids = np.asarray(ids_ds[()], dtype=np.int64).ravel()
    else:
        first = next((group[n] for n in names if is_dataset(group.get(n))), None)
        index = group.get(f"{names[0]}_index") if names else None
        n_rows = len(index) if is_dataset(index) else (len(first) if first is not None else 0)
        ids = np.arange(n_rows, dtype=np.int64)
    columns["id"] = pa.array(ids)
    for name in names:
        if not is_dataset(group.get(name)):
            warn(f"{where}: column {name!r} is listed but absent; skipped")
            continue
        try:
            arr = column_array(group, name, resolve_refs=name in ref_columns, region_ids=region_ids)
        except UnsupportedColumnError as exc:
            warn(f"{where}: column {name!r} dropped because {exc}")
            continue
        if len(arr) != n_rows:
            warn(f"{where}: column {name!r} has {len(arr)} rows, the table {n_rows}; dropped")
            continue
        columns[name] = arr
        desc = as_text(group[name].attrs.get("description"))
        if desc:
            descriptions[name] = desc
    frame = pl.from_arrow(pa.table(columns))
    assert isinstance(frame, pl.DataFrame)
    frame = frame.with_columns(
        pl.when(pl.col(c) != "").then(pl.col(c)).alias(c) for c, t in frame.schema.items() if t == pl.String
    )
    return TableData(
        name=posixpath.basename(group.name), path=group.name, neurodata_type=neurodata_type(group),
        description=as_text(group.attrs.get("description")), frame=frame, column_descriptions=descriptions,
    )
