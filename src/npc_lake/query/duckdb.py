"""DuckDB over the lake: every table a view, the shipped macros loaded. The only module importing duckdb.

Tables are exposed by registering the pyarrow dataset of each Delta table's live files. That works
offline with any DuckDB version and never reads a file a re-ingest has replaced (the Delta log lists
only live files); see the README section "How DuckDB reads the lake" for the measurements behind it.
"""

from __future__ import annotations

import os

import duckdb
import polars as pl

from npc_lake.errors import NpcLakeError
from npc_lake.lake import Lake
from npc_lake.query.sqlfiles import read_sql
from npc_lake.schema import TABLES

_READ_ONLY_TYPES = {"SELECT", "EXPLAIN"}


def connect(lake: Lake | str | os.PathLike[str] | None = None, *, threads: int | None = None
            ) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with every lake table as a view.

    Parameters
    ----------
    lake
        The lake (handle, URI, path, or ``None`` for ``$NPC_LAKE_URI`` / ``./lake``).
    threads
        DuckDB worker threads (default: DuckDB's own choice).

    Returns
    -------
    duckdb.DuckDBPyConnection
        Tables not yet in the lake are present as empty views with their declared columns, so queries
        written for the full lake run on a partial one.
    """
    handle = Lake.open(lake if not isinstance(lake, os.PathLike) else os.fspath(lake))
    con = duckdb.connect(config={"threads": threads} if threads else {})
    for name, table in TABLES.items():
        dataset = handle.arrow_dataset(name)
        source = dataset if dataset is not None else pl.DataFrame(schema=table.polars_schema).to_arrow()
        con.register(name, source)
    con.execute(read_sql("macros.sql"))
    return con


def check_read_only(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Raise :class:`NpcLakeError` unless ``sql`` is a single read-only statement (SELECT, EXPLAIN)."""
    try:
        statements = con.extract_statements(sql)
    except duckdb.Error as exc:
        raise NpcLakeError(f"SQL does not parse: {exc}") from None
    if len(statements) != 1:
        raise NpcLakeError(f"expected one SQL statement, got {len(statements)}")
    kind = statements[0].type.name
    if kind not in _READ_ONLY_TYPES:
        raise NpcLakeError(f"only read-only statements (SELECT, EXPLAIN) are allowed, not {kind}")


def run_sql(sql: str, *, lake: Lake | str | None = None) -> pl.DataFrame:
    """Run one read-only statement against the lake and return the result as a Polars frame.

    Raises
    ------
    NpcLakeError
        The statement is not read-only or DuckDB rejects it.
    """
    con = connect(lake)
    check_read_only(con, sql)
    try:
        return con.sql(sql).pl()
    except duckdb.Error as exc:
        raise NpcLakeError(f"query failed: {exc}") from None
    finally:
        con.close()
