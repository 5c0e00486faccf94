"""Polars columns → hdmf table columns, and the descriptions that go with them.

Everything the export writes into a ``DynamicTable`` goes through :func:`table_columns`, so the rules
for nulls live in one place:

* float: null → NaN.
* int / bool with nulls: written as float64 with NaN for null (1.0/0.0 for booleans); without nulls
  the dtype is kept.
* str: null → ``""``.
* datetime: ISO 8601 strings, null → ``""``.
* list[scalar]: a ragged column (data + ``<name>_index``); a null list is written as an empty list.
* list[list[scalar]] whose inner lists all have one length k: ragged rows of k-element records
  (2-D data + index), e.g. ``obs_intervals``.
* a column with no non-null value is not written at all; other dtypes are skipped with a warning.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

import numpy as np
import polars as pl
from hdmf.backends.hdf5 import H5DataIO
from hdmf.common import DynamicTable, VectorData, VectorIndex

from npc_lake.errors import SessionError
from npc_lake.schema import SessionBundle, get_table
from npc_lake.schema.conventions import default_column_description, default_table_description

T = TypeVar("T")

#: Datasets with at least this many elements are written gzip-compressed and chunked.
COMPRESS_MIN_ELEMENTS = 10_000


def compressed(data: np.ndarray[Any, Any] | list[Any]) -> Any:
    """Wrap large numeric arrays in ``H5DataIO`` (gzip level 4, shuffle); leave small or text data as is."""
    if isinstance(data, np.ndarray) and data.dtype.kind in "biuf" and data.size >= COMPRESS_MIN_ELEMENTS:
        return H5DataIO(data=data, compression="gzip", compression_opts=4, shuffle=True, chunks=True)
    return data


def construct(cls: type[T], **kwargs: Any) -> T:
    """Create an hdmf container as pynwb's reader does (construct mode), so a ``:`` in its name is kept.

    pynwb refuses ``:`` in the names of new objects, but HDF5 allows it, pynwb reads such files, and
    published files name electrode groups e.g. ``'H-129: 64'``. ``/`` is refused by :func:`check_name`
    before this is called. See :mod:`npc_lake.schema.conventions`.
    """
    if ":" not in str(kwargs.get("name", "")):
        return cls(**kwargs)
    obj = cls.__new__(cls, in_construct_mode=True)  # type: ignore[call-arg]
    obj.__init__(**kwargs)  # type: ignore[misc]
    obj._in_construct_mode = False  # type: ignore[attr-defined]
    return obj


class Descriptions:
    """Column and table descriptions of one lake table, as the writer gives them.

    The description the source recorded for the same source table (``column_descriptions``) wins;
    without one, the fallback of :mod:`npc_lake.schema.conventions` (the schema's declaration, else
    :data:`~npc_lake.schema.conventions.NO_DESCRIPTION`), which the reader never records back.

    Parameters
    ----------
    bundle
        The session; only its ``column_descriptions`` frame is read.
    table_name
        Lake table whose columns are described.
    """

    def __init__(self, bundle: SessionBundle, table_name: str) -> None:
        self.table = get_table(table_name)
        self._by_source: dict[tuple[str, str], str] = {}
        frame = bundle.table("column_descriptions")
        if frame is not None and frame.height:
            rows = frame.filter(pl.col("table_name") == table_name, pl.col("description").is_not_null())
            for source, column, text in rows.select("source_name", "column_name", "description").iter_rows():
                if text:
                    self._by_source.setdefault((source, column), text)

    def recorded(self, name: str, *, source_name: str | None = None) -> bool:
        """Whether the source recorded a description of column ``name`` (so the source had the column)."""
        return (source_name or self.table.name, name) in self._by_source

    def column(self, name: str, *, source_name: str | None = None) -> str:
        """Description of column ``name`` of source table ``source_name`` (default: the lake table's name)."""
        recorded = self._by_source.get((source_name or self.table.name, name))
        return recorded if recorded is not None else default_column_description(self.table, name)

    def table_description(self, source_name: str) -> str:
        """Description of the source table ``source_name`` itself (``column_name == ""``)."""
        recorded = self._by_source.get((source_name, ""))
        return recorded if recorded is not None else default_table_description(self.table.name, source_name)


def _scalar_values(series: pl.Series) -> np.ndarray[Any, Any] | list[Any] | None:
    """Values of a scalar column in a form hdmf writes, nulls replaced; ``None`` if not writable."""
    dtype = series.dtype
    has_nulls = series.null_count() > 0
    if dtype.is_float():
        return series.fill_null(float("nan")).to_numpy()
    if dtype.is_integer() or dtype == pl.Boolean:
        if has_nulls:
            return series.cast(pl.Float64).fill_null(float("nan")).to_numpy()
        return series.to_numpy()
    if dtype in (pl.String, pl.Categorical, pl.Enum):
        return series.cast(pl.String).fill_null("").to_list()
    if isinstance(dtype, pl.Datetime | pl.Date):
        return [value.isoformat() if value is not None else "" for value in series.to_list()]
    return None


def _ragged(series: pl.Series, name: str, description: str) -> list[VectorData] | None:
    """A list column as ``[data, index]``, or ``None`` when its element type cannot be written."""
    lengths = series.list.len().fill_null(0).to_numpy().astype(np.int64)
    # explode only the non-empty lists, so that every exploded row is a real element
    flat = series.filter(pl.Series(lengths > 0)).explode()
    if flat.len() == 0:
        return None  # only empty lists: nothing to write, and no dtype to write it with
    inner_dtype = flat.dtype
    if isinstance(inner_dtype, pl.List | pl.Array):
        widths = flat.list.len().unique()
        if flat.null_count() or widths.len() != 1:
            warnings.warn(f"column {name!r}: nested lists of unequal length are not exported", stacklevel=3)
            return None
        values = _scalar_values(flat.explode())
        if not isinstance(values, np.ndarray):
            warnings.warn(f"column {name!r}: nested non-numeric lists are not exported", stacklevel=3)
            return None
        data: Any = values.reshape(flat.len(), int(widths[0]))
    else:
        data = _scalar_values(flat)
        if data is None:
            warnings.warn(f"column {name!r}: lists of {inner_dtype} are not exported", stacklevel=3)
            return None
    target = VectorData(name=name, description=description, data=compressed(data))
    index = VectorIndex(name=f"{name}_index", data=index_array(lengths), target=target)
    return [target, index]


def index_array(lengths: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """The ``VectorIndex`` data for rows of the given lengths: the cumulative sum, smallest unsigned dtype."""
    ends = np.cumsum(lengths, dtype=np.uint64)
    total = int(ends[-1]) if ends.size else 0
    for dtype in (np.uint8, np.uint16, np.uint32):
        if total <= np.iinfo(dtype).max:
            return ends.astype(dtype)
    return ends


def column_data(series: pl.Series, *, name: str, description: str,
                keep_empty: bool = False) -> list[VectorData] | None:
    """hdmf columns (``[data]`` or ``[data, index]``) for one polars column; ``None`` to leave it out.

    Parameters
    ----------
    series
        The column.
    name
        Column name in the NWB table.
    description
        Column description.
    keep_empty
        Write an all-null text column as ``""`` values (how the reader got its nulls) instead of
        leaving it out: for columns the source had.
    """
    if series.len() and keep_empty and series.null_count() == series.len() and series.dtype == pl.String:
        return [VectorData(name=name, description=description, data=[""] * series.len())]
    if series.len() == 0 or series.null_count() == series.len():
        return None
    if isinstance(series.dtype, pl.List | pl.Array):
        if isinstance(series.dtype, pl.Array):
            series = series.cast(pl.List(series.dtype.inner))
        return _ragged(series, name, description)
    values = _scalar_values(series)
    if values is None:
        warnings.warn(f"column {name!r}: dtype {series.dtype} is not exported", stacklevel=2)
        return None
    return [VectorData(name=name, description=description, data=compressed(values))]


def table_columns(frame: pl.DataFrame, *, names: Iterable[str], descriptions: Descriptions,
                  source_name: str | None = None, rename: Mapping[str, str] | None = None) -> list[VectorData]:
    """hdmf columns for ``names`` of ``frame``, in order, leaving out all-null and unwritable columns.

    Parameters
    ----------
    frame
        One session's rows of a lake table, in output row order.
    names
        Columns to convert (missing names are ignored).
    descriptions
        Where descriptions come from.
    source_name
        Source table name used to look up descriptions of extras.
    rename
        NWB column name for a lake column name, where they differ.
    """
    rename = rename or {}
    out: list[VectorData] = []
    for name in names:
        if name not in frame.columns:
            continue
        nwb_name = rename.get(name, name)
        check_name(nwb_name, what="column")
        converted = column_data(frame[name], name=nwb_name,
                                description=descriptions.column(name, source_name=source_name),
                                keep_empty=descriptions.recorded(name, source_name=source_name))
        if converted:
            out.extend(converted)
    return out


def lake_dynamic_table(frame: pl.DataFrame, *, bundle: SessionBundle, table_name: str, name: str | None = None,
                       description: str | None = None) -> DynamicTable:
    """A plain DynamicTable of one session's rows of lake table ``table_name`` (ids 0..n-1), every non-null
    column in declaration order with its description."""
    descriptions = Descriptions(bundle, table_name)
    columns = table_columns(frame, names=ordered_columns(frame, table_name), descriptions=descriptions,
                            source_name=table_name)
    return DynamicTable(name=name or table_name, id=np.arange(frame.height, dtype=np.int64), columns=columns,
                        description=description or descriptions.table_description(table_name))


def ordered_columns(frame: pl.DataFrame, table_name: str, *, exclude: Iterable[str] = ()) -> list[str]:
    """Columns of ``frame``: declared ones in declaration order, then extras in frame order."""
    skip = {"session_id", *exclude}
    declared = [c for c in get_table(table_name).column_names if c in frame.columns and c not in skip]
    extras = [c for c in frame.columns if c not in skip and not get_table(table_name).has_column(c)]
    return declared + extras


def check_name(name: str, *, what: str, session_id: str | None = None) -> str:
    """Return ``name`` if it can name an NWB object (non-empty, no ``/``), else raise ``SessionError``."""
    if not name or "/" in name or name in {".", ".."}:
        raise SessionError(session_id or "?", f"{what} name {name!r} cannot be used in an NWB file")
    return name


def row_ids(frame: pl.DataFrame, column: str, *, table: str, session_id: str) -> np.ndarray[Any, Any]:
    """The NWB row ids of a table: ``column`` when it is complete and unique, else 0..n-1."""
    if column in frame.columns:
        ids = frame[column]
        if ids.null_count() == 0 and ids.n_unique() == ids.len():
            return ids.cast(pl.Int64).to_numpy()
        if table in {"electrodes"}:
            raise SessionError(session_id, f"{table}.{column} must be unique and non-null to export")
    return np.arange(frame.height, dtype=np.int64)


def first_value(frame: pl.DataFrame, column: str) -> Any:
    """First non-null value of ``column`` in ``frame`` (``None`` if absent or all null)."""
    if column not in frame.columns:
        return None
    values = frame[column].drop_nulls()
    return values[0] if values.len() else None
