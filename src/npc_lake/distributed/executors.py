"""Where ingest jobs run: in this process, in a local process pool, or on a Dask cluster.

Every executor runs the same :func:`~npc_lake.distributed.jobs.run_job` and yields its
:class:`~npc_lake.distributed.jobs.JobResult` as each job ends. Jobs write to the lake themselves; the
driver only ever holds results, never session data.
"""

from __future__ import annotations

import multiprocessing
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import ClassVar

from npc_lake.distributed.jobs import IngestJob, JobResult, run_job
from npc_lake.errors import NpcLakeError

EXECUTORS = ("inprocess", "process", "dask")


class Executor(ABC):
    """Runs ingest jobs; ``workers`` is how many run at once."""

    name: ClassVar[str]
    workers: int = 1

    @abstractmethod
    def run(self, jobs: Sequence[IngestJob]) -> Iterator[JobResult]:
        """Run ``jobs``, yielding each result as its job ends (in any order)."""

    def close(self) -> None:  # noqa: B027 - most executors hold nothing to release
        """Release workers (nothing to release by default)."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class InProcessExecutor(Executor):
    """One job after the other, in this process (the default; easiest to debug)."""

    name = "inprocess"

    def run(self, jobs: Sequence[IngestJob]) -> Iterator[JobResult]:
        for job in jobs:
            yield run_job(job)


def lost_job(job: IngestJob, reason: str) -> JobResult:
    """The result of a job whose workers kept dying under it."""
    return JobResult(source_uri=job.source_uri, run_id=job.run_id, status="failed", attempt=job.max_attempts,
                     duration_s=0.0, worker="?", error_class="WorkerLost", error_message=reason, transient=True)


class ProcessExecutor(Executor):
    """``workers`` local processes (spawned, so nothing of the driver's state leaks into them).

    A worker that dies (killed, out of memory) breaks the pool: the jobs it was running are submitted
    again to a fresh pool, up to each job's ``max_attempts``.
    """

    name = "process"

    def __init__(self, workers: int) -> None:
        self.workers = workers

    def run(self, jobs: Sequence[IngestJob]) -> Iterator[JobResult]:
        pending = list(jobs)
        losses: dict[int, int] = {}
        context = multiprocessing.get_context("spawn")
        while pending:
            with ProcessPoolExecutor(max_workers=self.workers, mp_context=context) as pool:
                futures: dict[Future[JobResult], int] = {pool.submit(run_job, job): i
                                                         for i, job in enumerate(pending)}
                retry: list[IngestJob] = []
                while futures:
                    done, _ = wait(futures, return_when=FIRST_COMPLETED)
                    for future in done:
                        index = futures.pop(future)
                        job = pending[index]
                        try:
                            yield future.result()
                        except BrokenProcessPool:
                            losses[id(job)] = losses.get(id(job), 0) + 1
                            if losses[id(job)] < job.max_attempts:
                                retry.append(job)
                            else:
                                yield lost_job(job, f"a worker process died {losses[id(job)]} times running it")
            pending = retry


def make_executor(name: str, *, workers: int = 1, scheduler: str | None = None) -> Executor:
    """The executor called ``name`` (one of :data:`EXECUTORS`).

    Parameters
    ----------
    name
        ``"inprocess"``, ``"process"`` or ``"dask"``.
    workers
        Processes of the pool, or workers of the Dask LocalCluster started when no ``scheduler`` is given.
    scheduler
        Address of a running Dask scheduler (``tcp://host:8786``); only for ``"dask"``.
    """
    if name not in EXECUTORS:
        raise ValueError(f"unknown executor {name!r} (one of {', '.join(EXECUTORS)})")
    if scheduler is not None and name != "dask":
        raise ValueError("--scheduler is for --executor dask")
    if name == "inprocess":
        return InProcessExecutor()
    if name == "process":
        return ProcessExecutor(workers)
    try:
        from npc_lake.distributed.dask import DaskExecutor
    except ImportError as exc:
        raise NpcLakeError(f"the dask executor needs dask.distributed ({exc}): pip install 'npc-lake[dask]'") from None
    return DaskExecutor(workers=workers, scheduler=scheduler)
