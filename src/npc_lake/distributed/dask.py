"""Ingest jobs on a Dask cluster (dask.distributed): an existing scheduler, or a LocalCluster.

The only module that imports dask. Workers need npc_lake installed and, for an S3 lake or S3 sources,
the ``AWS_*`` variables (a LocalCluster's workers inherit them from this process).

A worker lost mid-job (killed, out of memory) is not a failure of the job: Dask runs the task again on
another worker (up to ``distributed.scheduler.allowed-failures``), and the new attempt is counted in
``ingest_runs``. The session's rows end up written exactly once, because a session write replaces that
session's rows and a killed writer's partial commits are repaired by the next write.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from npc_lake.distributed.executors import Executor, lost_job
from npc_lake.distributed.jobs import IngestJob, JobResult, run_job


def run_on_worker(job: IngestJob) -> JobResult:
    """Run ``job`` on the current Dask worker, naming the worker in its records."""
    from distributed import get_worker

    try:
        worker = get_worker().address
    except ValueError:  # not on a worker (a synchronous scheduler)
        worker = None
    return run_job(job, worker=worker)


class DaskExecutor(Executor):
    """Jobs as Dask tasks, one per source.

    Parameters
    ----------
    workers
        Worker processes of the LocalCluster started when ``scheduler`` is ``None`` (one thread each).
    scheduler
        Address of a running scheduler, e.g. ``tcp://10.0.0.5:8786``.
    """

    name = "dask"

    def __init__(self, *, workers: int = 2, scheduler: str | None = None) -> None:
        from distributed import Client, LocalCluster

        self._cluster: Any = None
        if scheduler is None:
            self._cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                         host="127.0.0.1", dashboard_address="127.0.0.1:0")  # any free port
            self._client = Client(self._cluster)
        else:
            self._client = Client(scheduler)
        self.workers = len(self._client.scheduler_info().get("workers", {})) or workers
        self.scheduler = str(self._cluster.scheduler_address if self._cluster is not None else scheduler)

    @property
    def client(self) -> Any:
        """The ``distributed.Client`` (to inspect or kill workers)."""
        return self._client

    def run(self, jobs: Sequence[IngestJob]) -> Iterator[JobResult]:
        from distributed.client import FutureCancelledError
        from distributed.scheduler import KilledWorker

        from distributed import as_completed

        futures = self._client.map(run_on_worker, list(jobs), pure=False)
        by_key = {future.key: job for future, job in zip(futures, jobs, strict=True)}
        for future in as_completed(futures):
            try:
                yield future.result()
            except (KilledWorker, FutureCancelledError) as exc:
                yield lost_job(by_key[future.key], f"Dask lost the workers running it: {exc}")

    def close(self) -> None:
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()
