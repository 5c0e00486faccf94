"""The thin CLI: output formats, listing commands, the NPC_LAKE_URI default."""

from __future__ import annotations

import io
import json
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from npc_lake.cli import main
from npc_lake.lake import Lake, write_session
from npc_lake.normalize import normalize_session

from conftest import tiny_bundle


@pytest.fixture
def lake_dir(tmp_path: Path) -> Path:
    lake = Lake.open(tmp_path / "lake")
    write_session(normalize_session(tiny_bundle("600001_2024-01-02", extra_trial_column=True)), lake=lake)
    write_session(normalize_session(tiny_bundle("600002_2024-01-03", n_units=4)), lake=lake)
    return tmp_path / "lake"


def invoke(*args: str, env: dict[str, str] | None = None) -> str:
    result = CliRunner().invoke(main, list(args), env=env)
    assert result.exit_code == 0, result.output
    return result.output


def test_sql_formats(lake_dir: Path, tmp_path: Path) -> None:
    query = "SELECT session_id, keywords, session_start_time FROM sessions ORDER BY 1"
    rows = json.loads(invoke("sql", query, "--lake", str(lake_dir), "--format", "json"))
    assert [r["session_id"] for r in rows] == ["600001_2024-01-02", "600002_2024-01-03"]
    assert rows[0]["keywords"] == ["test", "ünïcode"]
    csv = invoke("sql", query, "--lake", str(lake_dir), "--format", "csv")
    frame = pl.read_csv(io.StringIO(csv))
    assert frame.height == 2 and json.loads(frame["keywords"][0]) == ["test", "ünïcode"]
    out = tmp_path / "result.parquet"
    invoke("sql", query, "--lake", str(lake_dir), "--format", "parquet", "-o", str(out))
    assert pl.read_parquet(out)["session_id"].to_list() == [r["session_id"] for r in rows]
    table = invoke("sql", query, "--lake", str(lake_dir))
    assert "600002_2024-01-03" in table and "(2 rows)" in table


def test_listing_commands(lake_dir: Path) -> None:
    tables = invoke("tables", "--lake", str(lake_dir))
    assert "spike_times" in tables and "ingest_log" in tables
    described = invoke("describe", "trials", "--lake", str(lake_dir))
    assert "rewarded_modality" in described and "lab_specific_score (extra)" in described
    sessions = invoke("sessions", "--lake", str(lake_dir))
    assert "600001_2024-01-02" in sessions and "600002_2024-01-03" in sessions
    markdown = invoke("describe", "--markdown")
    assert "### `spike_times`" in markdown


def test_lake_defaults_to_environment(lake_dir: Path) -> None:
    out = invoke("sql", "SELECT count(*) AS n FROM units", "--format", "json", env={"NPC_LAKE_URI": str(lake_dir)})
    assert json.loads(out) == [{"n": 7}]


def test_unknown_table_is_a_clean_error() -> None:
    result = CliRunner().invoke(main, ["describe", "neurons"])
    assert result.exit_code == 1 and "unknown table 'neurons'" in result.output


def test_awkward_result_types_print_in_every_format(lake_dir: Path) -> None:
    query = "SELECT 'ab'::BLOB AS b, [1.5::DECIMAL(3,1)] AS l, sum(1) AS n, INTERVAL 3 DAY AS i"
    rows = json.loads(invoke("sql", query, "--lake", str(lake_dir), "--format", "json"))
    assert rows == [{"b": "6162", "l": [1.5], "n": 1, "i": "3 days"}]
    csv = invoke("sql", query, "--lake", str(lake_dir), "--format", "csv")
    assert csv.splitlines()[1].startswith("6162,")
