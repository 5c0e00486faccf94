"""Several writer processes into one S3 lake: nothing lost, nothing doubled, every snapshot whole."""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
import uuid
from pathlib import Path

import polars as pl
import pytest

from npc_lake.lake import Lake, read_log
from npc_lake.lake.log import IngestRecord, snapshot_versions

WRITERS, SESSIONS_PER_WRITER = 4, 10
TABLES_CHECKED = ("sessions", "units", "spike_times", "trials", "electrodes")


def _write_sessions(uri: str, env: dict[str, str], session_ids: list[str], seed: int) -> list[str]:
    """Writer process: normalize and write each session; returns the errors it met."""
    os.environ.update(env)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from npc_lake.lake import write_session
    from npc_lake.normalize import normalize_session

    from conftest import tiny_bundle

    errors = []
    for index, session_id in enumerate(session_ids):
        try:
            bundle = tiny_bundle(session_id, n_units=3, spikes_per_unit=200, seed=seed + index)
            write_session(normalize_session(bundle), lake=uri)
        except Exception as exc:  # reported to the test, which fails on any
            errors.append(f"{session_id}: {type(exc).__name__}: {exc}")
    return errors


def _check_snapshot(lake: Lake) -> int:
    """Every session the log holds at its newest version is whole in the tables at that snapshot."""
    log_version, versions = snapshot_versions(lake)
    if log_version is None or not versions:
        return 0
    log = lake.scan("ingest_log", version=log_version).collect().sort("ingested_at")
    latest = {r.session_id: r for r in (IngestRecord.from_row(row) for row in log.iter_rows(named=True))}
    for name in TABLES_CHECKED:
        counts = dict(lake.scan(name, version=versions[name]).group_by("session_id").len().collect().iter_rows())
        for session_id, record in latest.items():
            assert counts.get(session_id, 0) == record.row_counts[name], (name, session_id, log_version)
        assert set(counts) <= set(latest), f"{name} holds a session the log does not have yet"
    return len(latest)


@pytest.mark.slow
def test_concurrent_writers_lose_nothing_and_snapshots_stay_whole(s3_env) -> None:  # type: ignore[no-untyped-def]
    uri = f"s3://lake/{uuid.uuid4().hex}"
    plans = [[f"6{w:02d}{i:03d}_2024-01-02" for i in range(SESSIONS_PER_WRITER)] for w in range(WRITERS)]
    context = multiprocessing.get_context("spawn")
    lake = Lake.open(uri)
    seen = []
    with context.Pool(WRITERS) as pool:
        pending = pool.starmap_async(_write_sessions, [(uri, s3_env.env, plan, 10 * w) for w, plan in enumerate(plans)])
        while not pending.ready():  # a reader querying throughout
            seen.append(_check_snapshot(lake))
            time.sleep(0.2)
        errors = [e for errs in pending.get() for e in errs]
    assert errors == []
    assert _check_snapshot(lake) == WRITERS * SESSIONS_PER_WRITER
    assert len(seen) > 5 and 0 < max(seen[:-1] or [1])  # snapshots were read while the writers ran
    units = lake.scan("units").collect()
    assert units.height == WRITERS * SESSIONS_PER_WRITER * 3 and units["unit_id"].is_unique().all()
    spikes = lake.scan("spike_times").group_by("unit_id").len().collect()
    assert spikes["len"].to_list() == [200] * units.height
    log = read_log(lake=uri)
    assert log.height == WRITERS * SESSIONS_PER_WRITER and log["session_id"].is_unique().all()


def test_two_writers_of_one_session_leave_one_copy(s3_env) -> None:  # type: ignore[no-untyped-def]
    uri = f"s3://lake/{uuid.uuid4().hex}"
    context = multiprocessing.get_context("spawn")
    with context.Pool(2) as pool:
        errors = pool.starmap(_write_sessions, [(uri, s3_env.env, ["600001_2024-01-02"], seed) for seed in (1, 2)])
    assert errors == [[], []]
    lake = Lake.open(uri)
    assert lake.scan("units").collect().height == 3
    assert lake.scan("spike_times").collect().height == 600
    assert lake.scan("trials").collect().height == 4
    assert read_log(lake=uri).height == 2
    assert _check_snapshot(lake) == 1
    spikes = lake.scan("spike_times").collect()
    log = read_log(lake=uri).sort("ingested_at")
    last = IngestRecord.from_row(log.row(-1, named=True))
    assert spikes.height == last.row_counts["spike_times"] and pl.Series(spikes["unit_id"]).n_unique() == 3


def test_the_s3_lock_is_renewed_while_held_and_broken_when_abandoned(s3_env, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import json
    import threading

    import obstore

    from npc_lake.lake.store import LOCK_PATH

    monkeypatch.setenv("NPC_LAKE_LOCK_TTL_S", "0.8")
    lake = Lake.open(f"s3://lake/{uuid.uuid4().hex}")
    order: list[str] = []
    holding = threading.Event()

    def hold() -> None:
        with lake.write_lock():
            holding.set()
            time.sleep(2.0)  # longer than the TTL: only renewal keeps the lock
            order.append("first released")

    holder = threading.Thread(target=hold)
    holder.start()
    holding.wait(10)
    with lake.write_lock():
        order.append("second acquired")
    holder.join()
    assert order == ["first released", "second acquired"]
    store = lake._object_store()
    obstore.put(store, LOCK_PATH, json.dumps({"owner": "dead", "renewed": time.time() - 60}).encode())
    started = time.monotonic()
    with lake.write_lock():  # an abandoned lock is broken at once
        assert json.loads(bytes(obstore.get(store, LOCK_PATH).bytes()))["owner"] != "dead"
    assert time.monotonic() - started < 5
