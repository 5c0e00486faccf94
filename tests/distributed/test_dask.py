"""Dask: 12 sources (2 corrupt) into an S3 lake on a LocalCluster of 2 worker processes, re-run, status;
and a worker killed mid-ingest whose session is retried to exactly one copy."""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from npc_lake.cli import main
from npc_lake.distributed import new_run_id
from npc_lake.distributed.executors import make_executor
from npc_lake.distributed.run import ingest_sources
from npc_lake.distributed.status import ingest_status
from npc_lake.lake import Lake
from npc_lake.lake.maintenance import check_lake
from npc_lake.testing import write_synthetic_nwb

from lake_helpers import session_counts


@pytest.mark.slow
def test_dask_ingest_into_s3_records_failures_and_reruns_to_nothing_new(  # type: ignore[no-untyped-def]
        s3_env, corpus: tuple[list[Path], list[Path]]) -> None:
    good, corrupt = corpus
    uri = f"s3://lake/{uuid.uuid4().hex}"
    sources = [str(p) for p in [*good, *corrupt]]
    runner = CliRunner()
    first = runner.invoke(main, ["ingest", *sources, "--lake", uri, "--executor", "dask", "--jobs", "2"])
    assert first.exit_code == 1, first.output
    assert "10 of 12 sources ingested" in first.output and "2 failed" in first.output
    lake = Lake.open(uri)
    counts = session_counts(lake)
    assert len(counts["sessions"]) == 10 and set(counts["sessions"].values()) == {1}
    assert check_lake(lake).is_empty()  # every session's rows exactly once, in every table
    status = ingest_status(lake)
    failed = status.filter(status["status"] == "failed")
    assert sorted(Path(s).name for s in failed["source_uri"]) == sorted(p.name for p in corrupt)
    assert failed["error_message"].str.contains("corrupt or truncated").all()
    assert set(status.filter(status["status"] == "ok")["worker"].str.slice(0, 16)) <= {"tcp://127.0.0.1:"}
    versions = {name: lake.version(name) for name in ("units", "spike_times", "ingest_log")}
    again = runner.invoke(main, ["ingest", *sources, "--lake", uri, "--executor", "dask", "--jobs", "2"])
    assert again.exit_code == 1 and "2 failed" in again.output
    assert {name: lake.version(name) for name in versions} == versions  # nothing new was written
    assert set(ingest_status(lake)["status"]) == {"unchanged", "failed"}
    shown = runner.invoke(main, ["status", "--lake", uri, "--failed", "--format", "csv"])
    assert shown.exit_code == 1 and corrupt[0].name in shown.output and "SourceError" in shown.output


@pytest.mark.slow
def test_a_worker_killed_mid_ingest_is_retried_to_exactly_one_copy(tmp_path: Path) -> None:
    (big,) = write_synthetic_nwb(tmp_path / "big", n_sessions=1, n_units=400, duration_s=1200.0, seed=8)
    small = write_synthetic_nwb(tmp_path / "small", n_sessions=2, n_units=20, duration_s=60.0, seed=9,
                                first_index=1)
    lake = Lake.open(tmp_path / "lake")
    ingest_sources([str(small[0])], lake=lake.uri)  # the lake exists, so every attempt is recorded
    run_id = new_run_id()
    killed: list[str] = []

    def kill_the_big_one(pids: dict[str, int]) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if lake.delta_table("ingest_runs") is not None:
                running = ingest_status(lake, run_id=run_id).filter(source_uri=str(big), status="running")
                if running.height:
                    time.sleep(0.2)  # into the reading of its spikes
                    worker = running["worker"][0]
                    os.kill(pids[worker], signal.SIGKILL)
                    killed.append(worker)
                    return
            time.sleep(0.05)

    with make_executor("dask", workers=2) as executor:
        watcher = threading.Thread(target=kill_the_big_one, args=(executor.client.run(os.getpid),), daemon=True)  # type: ignore[attr-defined]
        watcher.start()
        results = ingest_sources([str(big), str(small[1])], lake=lake.uri, executor=executor, run_id=run_id)
        watcher.join()
    assert killed, "the big session's job was never seen running"
    by_source = {r.source_uri: r for r in results}
    assert all(r.status == "ok" for r in results) and len(results) == 2
    assert by_source[str(big)].attempt == 2 and by_source[str(big)].worker != killed[0]
    assert check_lake(lake).is_empty()
    counts = session_counts(lake)
    assert len(counts["sessions"]) == 3 and set(counts["sessions"].values()) == {1}
