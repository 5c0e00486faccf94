"""Make a source frame fit its declared table.

Conforming renames aliases to declared names, adds the declared columns a source lacks (as nulls),
casts declared columns to their declared dtype (refusing lossy casts), keeps extra columns with their
own dtypes, and sorts rows by the table's sort key. It never drops data silently.
"""

from __future__ import annotations

import polars as pl

from npc_lake.errors import SchemaError
from npc_lake.schema import Table

_UNSUPPORTED_EXTRA = (pl.Object, pl.Null)


def _cast_column(series: pl.Series, dtype: pl.DataType, *, table: str, session_id: str | None) -> pl.Series:
    """Cast one column, refusing casts that would change values."""
    if series.dtype == dtype:
        return series
    source = series
    if series.dtype.is_float() and (dtype.is_integer() or dtype == pl.Boolean):
        source = series.fill_nan(None)
    try:
        cast = source.cast(dtype, strict=True)
    except (pl.exceptions.InvalidOperationError, pl.exceptions.ComputeError) as exc:
        raise SchemaError(table, f"column {series.name!r} ({series.dtype}) cannot be cast to {dtype}: {exc}",
                          session_id=session_id) from None
    if source.dtype.is_float() and dtype.is_integer():
        nonnull = source.is_not_null()
        if not (cast.filter(nonnull).cast(pl.Float64) == source.filter(nonnull).cast(pl.Float64)).all():
            raise SchemaError(table, f"column {series.name!r} has non-integer values but is declared {dtype}",
                              session_id=session_id)
    return cast


def _plain_dtype(series: pl.Series) -> pl.Series:
    """Turn dtypes the lake cannot store as-is into plain ones (categorical → string, array → list)."""
    dtype = series.dtype
    if isinstance(dtype, (pl.Categorical, pl.Enum)):
        return series.cast(pl.String)
    if isinstance(dtype, pl.Array):
        return series.cast(pl.List(dtype.inner))
    return series


def conform(frame: pl.DataFrame, table: Table, *, session_id: str | None = None,
            sort: bool = True) -> pl.DataFrame:
    """Return ``frame`` conformed to ``table``.

    Parameters
    ----------
    frame
        Rows of one table as a source produced them.
    table
        The declaration to conform to.
    session_id
        When given, the ``session_id`` column is set to it (and must not contradict it).
    sort
        Sort rows by the table's sort key (off for spike batches, whose order is checked instead).

    Returns
    -------
    polars.DataFrame
        Declared columns first, in declared order and dtype, then the extra columns.

    Raises
    ------
    SchemaError
        A required column is missing or null, a declared column cannot be cast without loss, an extra
        column has an unstorable dtype, or a closed table receives an undeclared column.
    """
    renames = {alias: name for alias, name in table.aliases.items()
               if alias in frame.columns and name not in frame.columns}
    if renames:
        frame = frame.rename(renames)

    if session_id is not None and table.has_column("session_id"):
        if "session_id" in frame.columns:
            others = frame.filter(pl.col("session_id") != session_id)
            if others.height:
                raise SchemaError(table.name, f"rows of another session ({others['session_id'][0]!r}) in a "
                                  f"frame of session {session_id!r}", session_id=session_id)
        frame = frame.with_columns(pl.lit(session_id, dtype=pl.String).alias("session_id"))

    extras = [c for c in frame.columns if not table.has_column(c)]
    if table.closed and extras:
        raise SchemaError(table.name, f"undeclared columns {extras}", session_id=session_id)

    columns: list[pl.Series] = []
    for col in table.columns:
        if col.name in frame.columns:
            series = _cast_column(_plain_dtype(frame[col.name]), col.polars_dtype, table=table.name,
                                  session_id=session_id)
        elif col.required or col.name in table.primary_key:
            raise SchemaError(table.name, f"required column {col.name!r} is missing", session_id=session_id)
        else:
            series = pl.Series(col.name, [None] * frame.height, dtype=col.polars_dtype)
        if (col.required or col.name in table.primary_key) and series.null_count():
            raise SchemaError(table.name, f"required column {col.name!r} has {series.null_count()} null values",
                              session_id=session_id)
        columns.append(series)
    for name in extras:
        series = _plain_dtype(frame[name])
        if isinstance(series.dtype, _UNSUPPORTED_EXTRA):
            if series.dtype == pl.Null:
                series = series.cast(pl.String)
            else:
                raise SchemaError(table.name, f"column {name!r} holds Python objects ({series.dtype}); "
                                  "convert it to a concrete dtype first", session_id=session_id)
        columns.append(series)

    out = pl.DataFrame(columns, height=frame.height)
    if sort and table.sort_by and out.height > 1:
        out = out.sort(list(table.sort_by), maintain_order=True)
    return out


def empty_frame(table: Table) -> pl.DataFrame:
    """A frame with no rows and exactly the declared columns of ``table``."""
    return pl.DataFrame(schema=table.polars_schema)
