"""Snapshots on a real S3 lake: a tag keeps returning the rows it named after a session changes."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

import npc_lake
from npc_lake.cli import main
from npc_lake.errors import LakeError
from npc_lake.lake import Lake, write_session
from npc_lake.lake.snapshots import create_tag, list_tags, resolve_log_version
from npc_lake.normalize import normalize_session

from conftest import tiny_bundle

SESSION = "600001_2024-01-02"
SPIKE_SUM = "SELECT count(*) AS n, round(sum(spike_time), 6) AS total FROM spike_times"


def write(uri: str, session_id: str, *, seed: int, spikes: int) -> None:
    write_session(normalize_session(tiny_bundle(session_id, n_units=3, spikes_per_unit=spikes, seed=seed)), lake=uri)


def test_a_tag_keeps_the_old_rows_after_a_session_changes(s3_env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    uri = f"s3://lake/{uuid.uuid4().hex}"
    write(uri, SESSION, seed=1, spikes=50)
    write(uri, "600002_2024-01-03", seed=2, spikes=20)
    before = npc_lake.run_sql(SPIKE_SUM, lake=uri)
    runner = CliRunner()
    result = runner.invoke(main, ["tag", "release-2026-12", "-m", "first public release", "--lake", uri])
    assert result.exit_code == 0, result.output
    moment = datetime.now(UTC)
    time.sleep(1.1)
    write(uri, SESSION, seed=3, spikes=80)  # a changed version of the session
    after = npc_lake.run_sql(SPIKE_SUM, lake=uri)
    assert after["n"][0] == before["n"][0] + 3 * 30
    for as_of in ("release-2026-12", moment, moment.isoformat(), resolve_log_version(uri, "release-2026-12")):
        assert npc_lake.run_sql(SPIKE_SUM, lake=uri, as_of=as_of).equals(before), as_of
    result = runner.invoke(main, ["sql", SPIKE_SUM, "--as-of", "release-2026-12", "--format", "json", "--lake", uri])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == before.to_dicts()
    old = npc_lake.scan("spike_times", lake=uri, as_of="release-2026-12").filter(pl.col("session_id") == SESSION)
    assert old.collect().height == 150
    assert npc_lake.scan("spike_times", lake=uri).filter(pl.col("session_id") == SESSION).collect().height == 240
    assert npc_lake.Session(SESSION, lake=uri, as_of="release-2026-12").spike_times().height == 150
    exported = npc_lake.export_nwb(SESSION, tmp_path / "old.nwb", lake=uri, as_of="release-2026-12")
    from pynwb import NWBHDF5IO

    with NWBHDF5IO(str(exported), "r") as io:
        assert sum(len(t) for t in io.read().units["spike_times"][:]) == 150
    tags = list_tags(uri)
    assert tags.select("tag", "message").rows() == [("release-2026-12", "first public release")]
    log = runner.invoke(main, ["log", "--lake", uri])
    assert log.exit_code == 0 and "release-2026-12" in log.output and SESSION in log.output


def test_tags_are_checked_and_never_moved(tmp_path: Path) -> None:
    lake = str(tmp_path / "lake")
    with pytest.raises(LakeError, match="nothing to tag"):
        create_tag("v1", lake=lake)
    write(lake, SESSION, seed=1, spikes=10)
    assert create_tag("v1", lake=lake) == Lake.open(lake).version("ingest_log")
    with pytest.raises(LakeError, match="never moved"):
        create_tag("v1", lake=lake)
    with pytest.raises(LakeError, match="use letters"):
        create_tag("../../etc", lake=lake)
    with pytest.raises(LakeError, match="no tag 'nope'"):
        npc_lake.run_sql("SELECT 1", lake=lake, as_of="nope")
    with pytest.raises(LakeError, match="no ingest-log version 99"):
        npc_lake.scan("units", lake=lake, as_of=99)
    assert npc_lake.scan("trials", lake=lake, as_of="v1").collect().height == 4
