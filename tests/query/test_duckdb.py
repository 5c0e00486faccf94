from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from npc_lake.errors import NpcLakeError
from npc_lake.lake import Lake, write_session
from npc_lake.normalize import normalize_session
from npc_lake.query.duckdb import connect, delta_extension_path, run_sql
from npc_lake.query.polars import scan

from conftest import tiny_bundle

READERS = ["arrow", pytest.param("delta", marks=pytest.mark.skipif(
    delta_extension_path() is None, reason="duckdb-extension-delta wheel not installed for this duckdb"))]


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    handle = Lake.open(tmp_path / "lake")
    write_session(normalize_session(tiny_bundle("600001_2024-01-02", n_units=3)), lake=handle)
    write_session(normalize_session(tiny_bundle("600002_2024-01-03", n_units=5)), lake=handle)
    # replace the first session twice: its old files stay on disk but are no longer live
    write_session(normalize_session(tiny_bundle("600001_2024-01-02", n_units=2, seed=1)), lake=handle)
    write_session(normalize_session(tiny_bundle("600001_2024-01-02", n_units=4, seed=2)), lake=handle)
    return handle


@pytest.mark.parametrize("reader", READERS)
def test_replaced_rows_are_never_read_twice(lake: Lake, reader: str) -> None:
    parquet_files = list(Path(lake.table_uri("spike_times")).rglob("*.parquet"))
    assert len(parquet_files) > 2  # the replaced files are still there
    counts = run_sql("SELECT session_id, count(*) AS n FROM spike_times GROUP BY 1 ORDER BY 1", lake=lake,
                     reader=reader)  # type: ignore[arg-type]
    assert counts["n"].to_list() == [4 * 50, 5 * 50]
    units = run_sql("SELECT count(*) AS n FROM units", lake=lake, reader=reader)  # type: ignore[arg-type]
    assert units["n"][0] == 9


@pytest.mark.parametrize("reader", READERS)
def test_sql_matches_polars(lake: Lake, reader: str) -> None:
    con = connect(lake, reader=reader)  # type: ignore[arg-type]
    by_sql = con.sql("SELECT session_id, count(*) AS n FROM units WHERE default_qc GROUP BY 1 ORDER BY 1").pl()
    by_polars = (scan("units", lake=lake).filter(pl.col("default_qc")).group_by("session_id")
                 .agg(pl.len().alias("n")).sort("session_id").collect())
    assert by_sql["n"].to_list() == by_polars["n"].cast(pl.Int64).to_list()
    joined = con.sql("SELECT * FROM trials JOIN sessions USING (session_id)").pl()
    assert joined.height == 8 and "session_start_time" in joined.columns


def test_missing_tables_are_empty_views(tmp_path: Path) -> None:
    con = connect(tmp_path / "empty")
    assert con.sql("SELECT count(*) FROM recordings").fetchone() == (0,)
    assert not (tmp_path / "empty").exists()


@pytest.mark.parametrize("statement", [
    "CREATE TABLE x AS SELECT 1",
    "EXPLAIN ANALYZE COPY (SELECT 1 AS a) TO 'pwn.csv'",
    "explain   analyse SELECT 1",
    "EXPLAIN COPY (SELECT 1) TO 'x.csv'",
    "COPY (SELECT 1) TO 'x.csv'",
    "SELECT 1; SELECT 2",
    "INSTALL delta",
    "ATTACH 'other.db'",
])
def test_sql_is_read_only(lake: Lake, statement: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    before = sorted((p, p.stat().st_mtime_ns) for p in Path(lake.uri).rglob("*"))
    with pytest.raises(NpcLakeError):
        run_sql(statement, lake=lake)
    assert sorted((p, p.stat().st_mtime_ns) for p in Path(lake.uri).rglob("*")) == before
    assert not list(tmp_path.glob("*.csv"))


def test_explain_of_a_select_is_allowed(lake: Lake) -> None:
    plan = run_sql("EXPLAIN SELECT count(*) FROM units", lake=lake)
    assert plan.height >= 1


def test_results_are_plain_types(lake: Lake) -> None:
    frame = run_sql("SELECT sum(num_spikes) AS n, 1.5::DECIMAL(10,2) AS d, 7::DECIMAL(10,0) AS w, "
                    "max(session_start_time) - min(session_start_time) AS span, 'ab'::BLOB AS b, "
                    "[1.5::DECIMAL(3,1)] AS l FROM units JOIN sessions USING (session_id)", lake=lake)
    assert frame.schema["n"] == pl.Int64 and frame["n"][0] == 9 * 50
    assert frame.schema["d"] == pl.Float64 and frame.schema["w"] == pl.Int64
    assert frame.schema["span"] == pl.String


def test_broken_sql_is_a_clear_error(lake: Lake) -> None:
    with pytest.raises(NpcLakeError, match=r"query failed|does not parse"):
        run_sql("SELECT no_such_column FROM units", lake=lake)
