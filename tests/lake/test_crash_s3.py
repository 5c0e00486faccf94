"""Writers killed with SIGKILL at seeded random moments: every table stays readable, every snapshot whole,
and ingesting again completes the session."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from npc_lake.lake import Lake
from npc_lake.lake.log import IngestRecord, snapshot_versions
from npc_lake.lake.maintenance import check_lake
from npc_lake.schema import SESSION_TABLES
from npc_lake.testing import write_synthetic_nwb

KILLS = 22


SESSION = "700001_2024-01-01"


def _ingest_command(path: Path, uri: str) -> list[str]:
    """Ingest ``path`` as SESSION: the two files alternate, so every ingest rewrites every table."""
    return [sys.executable, "-c", "import sys; from npc_lake.pipeline import ingest; "
            "ingest(sys.argv[1], lake=sys.argv[2], session_id=sys.argv[3], replace=True)", str(path), uri, SESSION]


def _snapshot_is_whole(lake: Lake) -> None:
    log_version, versions = snapshot_versions(lake)
    if log_version is None:
        return
    log = lake.scan("ingest_log", version=log_version).collect().sort("ingested_at")
    latest = {r.session_id: r for r in (IngestRecord.from_row(row) for row in log.iter_rows(named=True))}
    for name in SESSION_TABLES:
        if name not in versions:
            continue
        counts = dict(lake.scan(name, version=versions[name]).group_by("session_id").len().collect().iter_rows())
        for session_id, record in latest.items():
            assert counts.get(session_id, 0) == record.row_counts[name], (name, session_id)


def _start_and_wait_for_the_spikes_commit(command: list[str], env: dict[str, str],
                                          lake: Lake) -> subprocess.Popen[bytes]:
    """Start an ingest and return once its first commit (spike_times, written first) is in the lake."""
    before = lake.version("spike_times")
    process = subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while process.poll() is None and lake.version("spike_times") == before and time.monotonic() < deadline:
        time.sleep(0.02)
    return process


@pytest.mark.slow
def test_sigkill_anywhere_leaves_a_readable_consistent_lake(s3_env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Half the kills fall anywhere in an ingest; the other half are aimed between its first commit and its
    log row (the window where tables disagree), at a random point of that window."""
    files = write_synthetic_nwb(tmp_path / "nwb", n_sessions=2, n_units=60, duration_s=240.0, seed=11)
    uri = f"s3://lake/{uuid.uuid4().hex}"
    env = {**os.environ, **s3_env.env, "NPC_LAKE_LOCK_TTL_S": "1"}  # a killed writer's lock is soon stale
    subprocess.run(_ingest_command(files[0], uri), env=env, check=True)  # creates the tables
    lake = Lake.open(uri)
    started = time.monotonic()
    process = _start_and_wait_for_the_spikes_commit(_ingest_command(files[1], uri), env, lake)  # replaces it
    first_commit = time.monotonic()
    assert process.wait() == 0
    whole = time.monotonic() - started  # imports, read, check, write
    commits = time.monotonic() - first_commit  # from the first commit to the end
    rng = random.Random(20261125)
    killed_writing = cut_short = 0
    for kill in range(KILLS):
        command = _ingest_command(files[kill % 2], uri)
        if kill % 2:
            process = _start_and_wait_for_the_spikes_commit(command, env, lake)
            time.sleep(rng.uniform(0.0, 0.9) * commits)
        else:
            process = subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL)
            time.sleep(rng.uniform(0.2, 0.95) * whole)
        process.send_signal(signal.SIGKILL)
        process.wait()
        killed_writing += process.returncode == -signal.SIGKILL
        for name in SESSION_TABLES:  # every table readable
            lake.scan(name).collect()
        _snapshot_is_whole(lake)
        cut_short += not check_lake(lake).is_empty()  # killed between two tables' commits
    assert killed_writing >= KILLS // 2 and cut_short >= 3, (killed_writing, cut_short)
    subprocess.run(_ingest_command(files[1], uri), env=env, check=True)  # ingesting again completes it
    assert check_lake(lake).is_empty()
    _snapshot_is_whole(lake)
