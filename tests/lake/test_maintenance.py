"""check finds sessions whose tables disagree; optimize and vacuum keep every row."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from click.testing import CliRunner
from deltalake import write_deltalake

from npc_lake.cli import main
from npc_lake.lake import Lake, write_session
from npc_lake.lake.maintenance import check_lake, optimize_lake, vacuum_lake
from npc_lake.normalize import normalize_session
from npc_lake.schema import SESSION_TABLES

from conftest import tiny_bundle

SESSIONS = ("600001_2024-01-02", "600002_2024-01-03", "600003_2024-01-04")


def filled(tmp_path: Path) -> Lake:
    lake = Lake.open(tmp_path / "lake")
    for seed, session_id in enumerate(SESSIONS):
        write_session(normalize_session(tiny_bundle(session_id, n_units=2, spikes_per_unit=30, seed=seed)), lake=lake)
    return lake


def test_check_reports_a_session_cut_short_and_a_reingest_repairs_it(tmp_path: Path) -> None:
    lake = filled(tmp_path)
    assert check_lake(lake).is_empty()
    units = lake.scan("units").filter(pl.col("session_id") == SESSIONS[1]).collect().head(1)
    write_deltalake(lake.table_uri("units"), units.to_arrow(), mode="overwrite",  # as if killed mid-write
                    predicate=f"session_id = '{SESSIONS[1]}'")
    problems = check_lake(lake)
    assert set(problems["session_id"]) == {SESSIONS[1]} and set(problems["table"]) == {"units", "spike_times"}
    assert "1 rows, the latest ingest logged 2" in problems["problem"].to_list()
    result = CliRunner().invoke(main, ["check", "--lake", str(lake.uri)])
    assert result.exit_code == 1 and SESSIONS[1] in result.output
    bundle = tiny_bundle(SESSIONS[1], n_units=2, spikes_per_unit=30, seed=1)  # the same content again
    assert "units" in write_session(normalize_session(bundle), lake=lake).written  # the cut table is rewritten
    assert check_lake(lake).is_empty()
    assert CliRunner().invoke(main, ["check", "--lake", str(lake.uri)]).exit_code == 0


def test_a_table_rewritten_by_a_killed_writer_is_rewritten_even_with_the_same_row_count(tmp_path: Path) -> None:
    """The crash that row counts cannot see: a killed writer of other content left a table with as many rows."""
    lake = filled(tmp_path)
    other = normalize_session(tiny_bundle(SESSIONS[1], n_units=2, spikes_per_unit=45, seed=9))
    write_deltalake(lake.table_uri("units"), other.frame_of("units").to_arrow(), mode="overwrite",
                    predicate=f"session_id = '{SESSIONS[1]}'")  # its units written, then killed
    assert "units" in set(check_lake(lake)["table"])  # num_spikes now disagree with spike_times
    again = write_session(normalize_session(tiny_bundle(SESSIONS[1], n_units=2, spikes_per_unit=30, seed=1)),
                          lake=lake)
    assert again.written == ["units"] and "spike_times" in again.unchanged
    assert check_lake(lake).is_empty()


def test_optimize_and_vacuum_keep_every_row(tmp_path: Path) -> None:
    lake = filled(tmp_path)
    before = {name: lake.scan(name).collect() for name in SESSION_TABLES}
    files = len(lake.delta_table("ingest_log").file_uris())  # type: ignore[union-attr]
    removed = optimize_lake(lake)
    assert removed["ingest_log"] == files == 3 and "spike_times" not in removed
    assert len(lake.delta_table("ingest_log").file_uris()) == 1  # type: ignore[union-attr]
    assert vacuum_lake(lake, retain_hours=0, dry_run=True)["ingest_log"] == 3
    vacuum_lake(lake, retain_hours=0)
    for name, frame in before.items():
        after = lake.scan(name).collect()
        assert after.sort(after.columns).equals(frame.sort(frame.columns)), name
    assert check_lake(lake).is_empty()
    result = CliRunner().invoke(main, ["vacuum", "--lake", str(lake.uri), "--dry-run"])
    assert result.exit_code == 0 and "would be deleted" in result.output
