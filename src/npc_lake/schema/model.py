"""The vocabulary in which tables are declared: :class:`Column` and :class:`Table`.

A column's dtype is written as a short string so that declarations read as data:

=====================  =========================================
``str``                UTF-8 string
``bool``               boolean
``int8`` … ``int64``   signed integers (``uint8`` … ``uint64`` too)
``float32``/``float64``  IEEE floats
``datetime``           timestamp, microseconds, UTC
``list[T]``            variable-length list of T (nesting allowed)
=====================  =========================================

Polars and Arrow types are derived from these strings, never written by hand elsewhere.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import polars as pl
import pyarrow as pa

_SCALARS: dict[str, pl.DataType] = {
    "str": pl.String(),
    "bool": pl.Boolean(),
    "int8": pl.Int8(),
    "int16": pl.Int16(),
    "int32": pl.Int32(),
    "int64": pl.Int64(),
    "uint8": pl.UInt8(),
    "uint16": pl.UInt16(),
    "uint32": pl.UInt32(),
    "uint64": pl.UInt64(),
    "float32": pl.Float32(),
    "float64": pl.Float64(),
    "datetime": pl.Datetime("us", "UTC"),
}


def parse_dtype(spec: str) -> pl.DataType:
    """Turn a dtype string such as ``"list[float32]"`` into a Polars dtype.

    Parameters
    ----------
    spec
        A dtype string of the declaration vocabulary (see module docstring).

    Returns
    -------
    polars.DataType
    """
    spec = spec.strip()
    if spec.startswith("list[") and spec.endswith("]"):
        return pl.List(parse_dtype(spec[5:-1]))
    try:
        return _SCALARS[spec]
    except KeyError:
        raise ValueError(f"unknown dtype {spec!r}; known: {sorted(_SCALARS)} and list[...]") from None


def format_dtype(dtype: pl.DataType) -> str:
    """Inverse of :func:`parse_dtype` for the dtypes it knows; other dtypes print as Polars does."""
    if isinstance(dtype, (pl.List, pl.Array)):
        inner = dtype.inner
        return f"list[{format_dtype(inner if isinstance(inner, pl.DataType) else inner())}]"
    for spec, known in _SCALARS.items():
        if dtype == known:
            return spec
    return str(dtype)


@dataclass(frozen=True)
class Column:
    """One column of a lake table.

    Parameters
    ----------
    name
        Column name, snake_case; ``*_time`` columns are seconds on the session clock.
    dtype
        A dtype string (see :func:`parse_dtype`).
    description
        What the value means, in one or two sentences; reused verbatim in NWB exports.
    unit
        Physical unit (``"s"``, ``"µm"``, ``"Hz"``…) or ``None`` for dimensionless values.
    required
        Must be present and non-null in every row (primary keys always are).
    aliases
        Older or foreign names under which sources may carry the same quantity.
    """

    name: str
    dtype: str
    description: str
    unit: str | None = None
    required: bool = False
    aliases: tuple[str, ...] = ()

    @property
    def polars_dtype(self) -> pl.DataType:
        """The Polars dtype of this column."""
        return parse_dtype(self.dtype)


@dataclass(frozen=True)
class Table:
    """One lake table: its columns, keys and layout.

    Parameters
    ----------
    name
        Table name, also the folder name of its Delta table under the lake root.
    description
        What one row is.
    columns
        Declared columns in display order. Sources may add further columns ("extras"); they are kept
        with their own dtypes unless ``closed`` is set.
    primary_key
        Columns that identify a row within the lake.
    partition_by
        Delta partition columns.
    closed
        Refuse columns that are not declared (bookkeeping tables).
    per_session
        Rows belong to one session and are replaced as a unit when that session is re-ingested.
    """

    name: str
    description: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    partition_by: tuple[str, ...] = ("session_id",)
    closed: bool = False
    per_session: bool = True
    sort_by: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        names = [c.name for c in self.columns]
        if len(set(names)) != len(names):
            raise ValueError(f"table {self.name}: duplicate column names")
        for key in (*self.primary_key, *self.partition_by, *self.sort_by):
            if key not in names:
                raise ValueError(f"table {self.name}: key column {key!r} is not declared")

    def __iter__(self) -> Iterator[Column]:
        return iter(self.columns)

    @property
    def column_names(self) -> tuple[str, ...]:
        """Declared column names in order."""
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        """The declared column called ``name`` (raises ``KeyError`` if undeclared)."""
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"{self.name}.{name}")

    def has_column(self, name: str) -> bool:
        """Whether ``name`` is a declared column."""
        return name in self.column_names

    @property
    def polars_schema(self) -> pl.Schema:
        """Polars schema of the declared columns."""
        return pl.Schema({c.name: c.polars_dtype for c in self.columns})

    @property
    def arrow_schema(self) -> pa.Schema:
        """Arrow schema of the declared columns, with descriptions and units as field metadata."""
        empty = pl.DataFrame(schema=self.polars_schema).to_arrow()
        fields = []
        for col, fld in zip(self.columns, empty.schema, strict=True):
            meta = {"description": col.description}
            if col.unit:
                meta["unit"] = col.unit
            fields.append(fld.with_nullable(not (col.required or col.name in self.primary_key))
                          .with_metadata(meta))
        return pa.schema(fields)

    @property
    def aliases(self) -> dict[str, str]:
        """Map of alias → declared name."""
        return {alias: c.name for c in self.columns for alias in c.aliases}
