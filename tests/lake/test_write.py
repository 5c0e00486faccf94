from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from npc_lake.errors import LakeError, SchemaError, SessionError
from npc_lake.lake import Lake, read_log, write_session
from npc_lake.normalize import normalize_session
from npc_lake.schema import SESSION_TABLES

from conftest import lake_bytes, tiny_bundle


def versions(lake: Lake) -> dict[str, int | None]:
    return {name: lake.version(name) for name in (*SESSION_TABLES, "ingest_log")}


def test_write_then_rewrite_unchanged_makes_no_commit(tmp_path: Path) -> None:
    lake = Lake.open(tmp_path / "lake")
    first = write_session(normalize_session(tiny_bundle()), lake=lake)
    assert first.changed and set(first.written) == set(SESSION_TABLES)
    before = versions(lake)
    again = write_session(normalize_session(tiny_bundle()), lake=lake)
    assert not again.changed
    assert versions(lake) == before
    assert read_log(lake).height == 1


def test_rewrite_replaces_only_that_session(tmp_path: Path) -> None:
    lake = Lake.open(tmp_path / "lake")
    write_session(normalize_session(tiny_bundle("600001_2024-01-02")), lake=lake)
    write_session(normalize_session(tiny_bundle("600002_2024-01-03", n_units=4)), lake=lake)
    other_before = lake.scan("spike_times").filter(pl.col("session_id") == "600002_2024-01-03").collect()
    changed = write_session(normalize_session(tiny_bundle("600001_2024-01-02", seed=5, n_units=2)), lake=lake)
    assert "spike_times" in changed.written and "devices" in changed.unchanged
    spikes = lake.scan("spike_times").collect()
    assert spikes.filter(pl.col("session_id") == "600001_2024-01-02").height == 2 * 50
    assert spikes.filter(pl.col("session_id") == "600002_2024-01-03").equals(other_before)
    units = lake.scan("units").collect()
    assert units.group_by("session_id").len().sort("session_id")["len"].to_list() == [2, 4]


def test_extra_columns_are_kept_and_conflicts_refused(tmp_path: Path) -> None:
    lake = Lake.open(tmp_path / "lake")
    write_session(normalize_session(tiny_bundle("600001_2024-01-02", extra_trial_column=True)), lake=lake)
    write_session(normalize_session(tiny_bundle("600002_2024-01-03")), lake=lake)
    trials = lake.scan("trials").sort("session_id", "trial_index").collect()
    assert trials.schema["lab_specific_score"] == pl.Float64
    assert trials.filter(pl.col("session_id") == "600002_2024-01-03")["lab_specific_score"].null_count() == 4
    bad = tiny_bundle("600003_2024-01-04")
    bad.tables["trials"] = bad.tables["trials"].with_columns(pl.lit("high").alias("lab_specific_score"))
    before = versions(lake)
    with pytest.raises(SchemaError, match="lab_specific_score"):
        write_session(normalize_session(bad), lake=lake)
    assert versions(lake) == before


def test_unit_ids_must_be_unique_across_sessions(tmp_path: Path) -> None:
    lake = Lake.open(tmp_path / "lake")
    write_session(normalize_session(tiny_bundle("600001_2024-01-02")), lake=lake)
    clash = tiny_bundle("600002_2024-01-03")
    clash.tables["units"] = clash.tables["units"].with_columns(
        pl.col("unit_id").str.replace("600002_2024-01-03", "600001_2024-01-02"))
    original = clash.spike_batches

    def renamed():  # type: ignore[no-untyped-def]
        for batch in original():
            yield batch.with_columns(pl.col("unit_id").str.replace("600002_2024-01-03", "600001_2024-01-02"))

    clash.spike_batches = renamed
    before = versions(lake)
    with pytest.raises(SessionError, match="already used by another session"):
        write_session(normalize_session(clash), lake=lake)
    assert versions(lake) == before


def test_extra_column_may_only_widen(tmp_path: Path) -> None:
    lake = Lake.open(tmp_path / "lake")
    text = tiny_bundle("600001_2024-01-02")
    text.tables["trials"] = text.tables["trials"].with_columns(pl.lit("7").alias("score"))
    write_session(normalize_session(text), lake=lake)
    number = tiny_bundle("600002_2024-01-03")
    number.tables["trials"] = number.tables["trials"].with_columns(pl.lit(7.5).alias("score"))
    with pytest.raises(SchemaError, match="'score' is Float64 in this session but String in the lake"):
        write_session(normalize_session(number), lake=lake)
    small = tiny_bundle("600003_2024-01-04")
    small.tables["trials"] = small.tables["trials"].with_columns(pl.lit(3, dtype=pl.Int8).alias("count"))
    write_session(normalize_session(small), lake=lake)
    wide = tiny_bundle("600004_2024-01-05")
    wide.tables["trials"] = wide.tables["trials"].with_columns(pl.lit(2**40).alias("count"))
    with pytest.raises(SchemaError, match="'count'"):
        write_session(normalize_session(wide), lake=lake)
    widened = tiny_bundle("600005_2024-01-06")
    widened.tables["trials"] = widened.tables["trials"].with_columns(pl.lit(3, dtype=pl.Int8).alias("score"))
    with pytest.raises(SchemaError, match="'score'"):  # a number is not text either
        write_session(normalize_session(widened), lake=lake)


def test_source_changing_between_check_and_write_is_refused(tmp_path: Path) -> None:
    lake = Lake.open(tmp_path / "lake")
    write_session(normalize_session(tiny_bundle("600002_2024-01-03")), lake=lake)
    bundle = tiny_bundle("600001_2024-01-02")
    session = normalize_session(bundle)  # first pass: checked and digested
    calls = {"n": 0}
    original = bundle.spike_batches

    def changing():  # type: ignore[no-untyped-def]
        calls["n"] += 1
        for batch in original():
            yield batch.with_columns(pl.col("spike_time") + 1.0)  # the file was rewritten meanwhile

    bundle.spike_batches = changing
    before = lake_bytes(tmp_path / "lake")
    with pytest.raises(SessionError, match="changed between the check and the write"):
        write_session(session, lake=lake)
    assert lake_bytes(tmp_path / "lake") == before


def test_failed_spike_stream_leaves_no_files(tmp_path: Path) -> None:
    bundle = tiny_bundle("600001_2024-01-02")
    session = normalize_session(bundle)
    original = bundle.spike_batches

    def failing():  # type: ignore[no-untyped-def]
        batches = original()
        yield next(batches)
        raise OSError("disk went away")

    bundle.spike_batches = failing
    with pytest.raises(LakeError, match="disk went away"):
        write_session(session, lake=Lake.open(tmp_path / "lake"))
    assert lake_bytes(tmp_path / "lake") == {}
