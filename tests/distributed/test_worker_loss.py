"""A worker killed (SIGKILL) mid-ingest: the session is retried elsewhere and its rows end up exactly once,
on Dask (the scheduler reschedules the task) and in the process pool (the broken pool is replaced)."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from npc_lake.distributed import new_run_id
from npc_lake.distributed.executors import make_executor
from npc_lake.distributed.run import ingest_sources
from npc_lake.distributed.status import ingest_status
from npc_lake.lake import Lake
from npc_lake.lake.maintenance import check_lake
from npc_lake.testing import write_synthetic_nwb

from lake_helpers import session_counts


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    """One session big enough to be caught mid-ingest (2.4 s or so), and two small ones."""
    folder = tmp_path_factory.mktemp("loss")
    (big,) = write_synthetic_nwb(folder / "big", n_sessions=1, n_units=400, duration_s=1200.0, seed=8)
    small = write_synthetic_nwb(folder / "small", n_sessions=2, n_units=20, duration_s=60.0, seed=9, first_index=1)
    return big, small


def _worker_pids(executor: object) -> dict[str, int]:
    client = getattr(executor, "client", None)
    return client.run(os.getpid) if client is not None else {}


@pytest.mark.slow
@pytest.mark.parametrize("executor_name", ["dask", "process"])
def test_a_worker_killed_mid_ingest_is_retried_to_exactly_one_copy(sources: tuple[Path, list[Path]],
                                                                   tmp_path: Path, executor_name: str) -> None:
    big, small = sources
    lake = Lake.open(tmp_path / "lake")
    ingest_sources([str(small[0])], lake=lake.uri)  # the lake exists, so every attempt is recorded
    run_id = new_run_id()
    killed: list[str] = []

    def kill_the_big_one(pids: dict[str, int]) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            running = ingest_status(lake, run_id=run_id).filter(source_uri=str(big), status="running")
            if running.height:
                time.sleep(0.2)  # into the reading of its spikes
                worker = str(running["worker"][0])
                os.kill(pids.get(worker) or int(worker.rsplit(":", 1)[1]), signal.SIGKILL)  # Dask address or host:pid
                killed.append(worker)
                return
            time.sleep(0.05)

    with make_executor(executor_name, workers=2) as executor:
        watcher = threading.Thread(target=kill_the_big_one, args=(_worker_pids(executor),), daemon=True)
        watcher.start()
        results = ingest_sources([str(big), str(small[1])], lake=lake.uri, executor=executor, run_id=run_id)
        watcher.join()
    assert killed, "the big session's job was never seen running"
    by_source = {r.source_uri: r for r in results}
    assert [r.status for r in results] == ["ok", "ok"], results
    assert by_source[str(big)].attempt == 2 and by_source[str(big)].worker != killed[0]
    assert check_lake(lake).is_empty()
    counts = session_counts(lake)
    assert len(counts["sessions"]) == 3 and set(counts["sessions"].values()) == {1}
