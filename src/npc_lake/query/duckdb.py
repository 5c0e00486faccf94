"""DuckDB over the lake: every table a view, the shipped macros loaded. The only module importing duckdb.

Two readers, both offline and both reading only the live files of each Delta table (never the files a
re-ingest replaced):

``delta``
    DuckDB's own Delta extension (``delta_scan``), loaded from the file shipped in the PyPI wheel
    ``duckdb-extension-delta`` (same version as duckdb; nothing is downloaded). Fastest, least memory,
    filters pushed down. Used for local lakes when the wheel is installed.
``arrow``
    The pyarrow dataset of each table's live files (listed by deltalake) registered as a view. Works
    with any DuckDB version and any storage deltalake reaches (s3://). The fallback.

See the README section "How DuckDB reads the lake" for the measurements behind the choice.
"""

from __future__ import annotations

import importlib.util
import os
import re
from pathlib import Path
from typing import Literal

import duckdb
import polars as pl

from npc_lake.errors import NpcLakeError
from npc_lake.lake import Lake
from npc_lake.lake.snapshots import AsOf, snapshot
from npc_lake.query.sqlfiles import read_sql
from npc_lake.schema import TABLES

Reader = Literal["auto", "delta", "arrow"]


def delta_extension_path() -> Path | None:
    """The Delta extension file shipped for this DuckDB version, or ``None`` when it is not installed."""
    spec = importlib.util.find_spec("duckdb_extension_delta")
    if spec is None or not spec.submodule_search_locations:
        return None
    root = Path(next(iter(spec.submodule_search_locations)))
    path = root / "extensions" / f"v{duckdb.__version__}" / "delta.duckdb_extension"
    return path if path.is_file() else None


def _choose_reader(handle: Lake, reader: Reader) -> Literal["delta", "arrow"]:
    if reader == "arrow":
        return "arrow"
    usable = handle.is_local and delta_extension_path() is not None
    if reader == "delta" and not usable:
        raise NpcLakeError(
            f"the DuckDB Delta extension for duckdb {duckdb.__version__} is not installed "
            f"(pip install duckdb-extension-delta=={duckdb.__version__}) or the lake is not local")
    return "delta" if usable else "arrow"


def _sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def connect(lake: Lake | str | os.PathLike[str] | None = None, *, threads: int | None = None,
            reader: Reader = "auto", as_of: AsOf | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with every lake table as a view.

    Parameters
    ----------
    lake
        The lake (handle, URI, path, or ``None`` for ``$NPC_LAKE_URI`` / ``./lake``).
    threads
        DuckDB worker threads (default: DuckDB's own choice).
    reader
        ``"delta"`` (DuckDB's Delta extension), ``"arrow"`` (pyarrow datasets) or ``"auto"``: delta for
        a local lake when the extension is installed, arrow otherwise (and always with ``as_of``).
    as_of
        Every view shows the snapshot this ingest-log version, tag or time names; latest if ``None``.

    Returns
    -------
    duckdb.DuckDBPyConnection
        Tables not yet in the lake are present as empty views with their declared columns, so queries
        written for the full lake run on a partial one.
    """
    handle = Lake.open(lake if not isinstance(lake, os.PathLike) else os.fspath(lake))
    chosen = _choose_reader(handle, "arrow" if as_of is not None else reader)
    versions = snapshot(handle, as_of) if as_of is not None else {}  # resolved once for every view
    config: dict[str, str | bool | int | float | list[str]] = {"autoinstall_known_extensions": False,
                                                              "autoload_known_extensions": False}
    if threads:
        config["threads"] = threads
    con = duckdb.connect(config=config)
    if chosen == "delta":
        con.execute(f"LOAD {_sql_literal(str(delta_extension_path()))}")
    for name, table in TABLES.items():
        if chosen == "delta" and handle.delta_table(name) is not None:
            con.execute(f"CREATE VIEW {name} AS SELECT * FROM delta_scan({_sql_literal(handle.table_uri(name))})")
            continue
        pinned = as_of is not None and versions.get(name) is None  # not created yet at that snapshot
        dataset = (handle.arrow_dataset(name, version=versions.get(name)) if chosen == "arrow" and not pinned
                   else None)
        source = dataset if dataset is not None else pl.DataFrame(schema=table.polars_schema).to_arrow()
        con.register(name, source)
    con.execute(read_sql("macros.sql"))
    return con


_EXPLAIN = re.compile(r"^\s*EXPLAIN\s+(?P<analyze>ANALY[SZ]E\s+)?(?P<inner>.*)$", re.IGNORECASE | re.DOTALL)


def check_read_only(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Raise :class:`NpcLakeError` unless ``sql`` is one SELECT, or an EXPLAIN (without ANALYZE) of one.

    ``EXPLAIN ANALYZE`` runs its statement, so it is refused: ``EXPLAIN ANALYZE COPY …`` would write.
    """
    try:
        statements = con.extract_statements(sql)
    except duckdb.Error as exc:
        raise NpcLakeError(f"SQL does not parse: {exc}") from None
    if len(statements) != 1:
        raise NpcLakeError(f"expected one SQL statement, got {len(statements)}")
    statement = statements[0]
    kind = statement.type.name
    if kind == "EXPLAIN":
        match = _EXPLAIN.match(statement.query)
        if match is None or match["analyze"]:
            raise NpcLakeError("EXPLAIN ANALYZE runs its statement and is not allowed; use EXPLAIN")
        check_read_only(con, match["inner"])
        return
    if kind != "SELECT":
        raise NpcLakeError(f"only read-only statements (SELECT, EXPLAIN SELECT) are allowed, not {kind}")


#: Result types turned into plain ones so that every output format can hold them.
_PLAIN_CASTS = {"hugeint": "BIGINT", "uhugeint": "BIGINT", "interval": "VARCHAR", "uuid": "VARCHAR",
                "bit": "VARCHAR", "time with time zone": "VARCHAR"}


def _plain_projection(relation: duckdb.DuckDBPyRelation) -> duckdb.DuckDBPyRelation:
    """Cast result columns Polars or JSON cannot carry (HUGEINT sums, DECIMAL, INTERVAL, UUID) to plain types."""
    expressions, changed = [], False
    for name, dtype in zip(relation.columns, relation.types, strict=True):
        quoted = '"' + name.replace('"', '""') + '"'
        kind = str(dtype.id)
        cast = _PLAIN_CASTS.get(kind)
        if kind == "decimal":
            cast = "BIGINT" if str(dtype).endswith(",0)") else "DOUBLE"
        if cast is None:
            expressions.append(quoted)
            continue
        changed = True
        expressions.append(f"TRY_CAST({quoted} AS {cast}) AS {quoted}")
    return relation.project(", ".join(expressions)) if changed else relation


def _float_decimals(dtype: pl.DataType) -> pl.DataType:
    """``dtype`` with every Decimal inside lists and structs replaced by Float64."""
    if isinstance(dtype, pl.Decimal):
        return pl.Float64()
    if isinstance(dtype, (pl.List, pl.Array)):
        inner = dtype.inner if isinstance(dtype.inner, pl.DataType) else dtype.inner()
        return pl.List(_float_decimals(inner))
    if isinstance(dtype, pl.Struct):
        return pl.Struct({f.name: _float_decimals(f.dtype if isinstance(f.dtype, pl.DataType) else f.dtype())
                          for f in dtype.fields})
    return dtype


def run_sql(sql: str, *, lake: Lake | str | None = None, reader: Reader = "auto",
            as_of: AsOf | None = None) -> pl.DataFrame:
    """Run one read-only statement against the lake and return the result as a Polars frame.

    HUGEINT and whole-number DECIMAL results (e.g. ``sum`` of integers) come back as Int64, other DECIMALs
    as Float64, INTERVAL and UUID as strings.

    Raises
    ------
    NpcLakeError
        The statement is not read-only or DuckDB rejects it.
    """
    con = connect(lake, reader=reader, as_of=as_of)
    check_read_only(con, sql)
    try:
        frame = _plain_projection(con.sql(sql)).pl()
        return frame.cast({name: _float_decimals(dtype) for name, dtype in frame.schema.items()
                           if dtype.is_nested()})
    except (duckdb.Error, pl.exceptions.PolarsError) as exc:
        raise NpcLakeError(f"query failed: {exc}") from None
    finally:
        con.close()
