"""One ingest job: read one source into the lake, retrying what a retry may cure, and record each attempt.

:func:`run_job` is the whole per-session pipeline for every executor (in-process, process pool, Dask):
it never raises for a bad source, it returns a :class:`JobResult`. Its attempts and outcome go into the
lake's ``ingest_runs`` table, so ``npc-lake status`` can tell, from anywhere, which sources are done,
failed (and why) or running, and where.
"""

from __future__ import annotations

import os
import random
import re
import socket
import time
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import polars as pl

from npc_lake.errors import LakeError, NpcLakeError, SourceError, plain_message

#: Message fragments of storage errors a retry may cure: throttling, unreachable storage, lost commit races.
TRANSIENT_STORAGE = re.compile(
    r"slow ?down|throttl|too many requests|\b50[0234]\b|service unavailable|timed? ?out|timeout|connection|"
    r"commit conflict|concurrent|temporarily|try again", re.IGNORECASE)
#: What a source reader says when it could not get at the bytes (as opposed to bytes that are bad).
UNREACHABLE_SOURCE = re.compile(r"cannot reach|cannot open the object|cannot list", re.IGNORECASE)

STATUSES = ("started", "ok", "unchanged", "failed")


@dataclass(frozen=True)
class IngestJob:
    """What to ingest, where, and how often to try.

    ``options`` are keyword arguments of :func:`npc_lake.pipeline.ingest` (``force``, ``sort_spikes``,
    ``replace``, ``source_format``).
    """

    source_uri: str
    lake_uri: str
    run_id: str
    options: dict[str, object] = field(default_factory=dict)
    max_attempts: int = 3
    backoff_s: float = 2.0


@dataclass(frozen=True)
class JobResult:
    """How a job ended; ``status`` is ``"ok"``, ``"unchanged"`` or ``"failed"``."""

    source_uri: str
    run_id: str
    status: str
    attempt: int
    duration_s: float
    worker: str
    session_id: str | None = None
    summary: str | None = None
    error_class: str | None = None
    error_message: str | None = None
    transient: bool | None = None
    ingest_id: str | None = None
    spike_rows: int = 0
    recorded: bool = False  # whether ingest_runs holds this outcome

    @property
    def failed(self) -> bool:
        return self.status == "failed"


def new_run_id() -> str:
    """A fresh run id (one per ingest command or job-file run)."""
    return str(uuid.uuid4())


def local_worker_name() -> str:
    """``host:pid`` of this process."""
    return f"{socket.gethostname()}:{os.getpid()}"


def is_transient(exc: BaseException) -> bool:
    """Whether a retry may cure ``exc``: storage throttling or unreachability, a lost commit race.

    A source that is corrupt, not NWB or breaks an invariant is terminal, as is any unexpected error.
    """
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return True
    if isinstance(exc, SourceError):
        return bool(UNREACHABLE_SOURCE.search(exc.reason))
    if isinstance(exc, (LakeError, OSError)):
        return bool(TRANSIENT_STORAGE.search(str(exc)))
    return False


def lake_exists(lake_uri: str) -> bool:
    """Whether anything was ever ingested into the lake (its ingest log exists)."""
    from npc_lake.lake import Lake

    return Lake.open(lake_uri).delta_table("ingest_log") is not None


def _previous_attempts(job: IngestJob) -> int:
    """Attempts of ``job`` already started in this run (by a worker that was lost, say)."""
    from npc_lake.lake import Lake

    lake = Lake.open(job.lake_uri)
    if lake.delta_table("ingest_runs") is None:
        return 0
    return (lake.scan("ingest_runs")
            .filter(pl.col("run_id") == job.run_id, pl.col("source_uri") == job.source_uri,
                    pl.col("status") == "started")
            .select(pl.len()).collect().item())


def _row(result: JobResult, status: str) -> dict[str, object]:
    done = status != "started"
    return {
        "run_id": result.run_id, "source_uri": result.source_uri, "status": status, "attempt": result.attempt,
        "duration_s": result.duration_s, "worker": result.worker, "recorded_at": datetime.now(UTC),
        "session_id": result.session_id, "error_class": result.error_class if done else None,
        "error_message": result.error_message if done else None, "transient": result.transient if done else None,
        "ingest_id": result.ingest_id if done else None, "spike_rows": result.spike_rows if done else None,
    }


def record_results(lake_uri: str, results: list[JobResult], *, status: str | None = None) -> bool:
    """Append ``results`` to the lake's ``ingest_runs`` (as ``status``, default each result's own).

    Returns whether they were recorded; a failure to record is reported on stderr, never raised.
    """
    from npc_lake.lake import Lake
    from npc_lake.lake.write import append_rows

    try:
        append_rows(Lake.open(lake_uri), "ingest_runs", pl.DataFrame([_row(r, status or r.status) for r in results]))
    except (NpcLakeError, OSError) as exc:
        what = ", ".join(r.source_uri for r in results)
        print(f"npc_lake: could not record the attempts of {what}: {plain_message(exc)}", flush=True)
        return False
    return True


def _attempt(job: IngestJob, attempt: int, worker: str, started: float) -> JobResult:
    from npc_lake.pipeline import ingest

    outcome = ingest(job.source_uri, lake=job.lake_uri, **job.options)  # type: ignore[arg-type]
    write = outcome.write
    written = outcome.status == "written"
    return JobResult(
        source_uri=job.source_uri, run_id=job.run_id, status="ok" if written else "unchanged", attempt=attempt,
        duration_s=time.monotonic() - started, worker=worker, session_id=outcome.session_id,
        summary=outcome.summary(), ingest_id=write.ingest_id if write else None,
        spike_rows=outcome.rows.get("spike_times", 0) if write and "spike_times" in write.written else 0)


def run_job(job: IngestJob, *, worker: str | None = None) -> JobResult:
    """Ingest one source, retrying transient errors with jittered exponential back-off.

    Parameters
    ----------
    job
        The source, the lake, the run and the ingest options.
    worker
        Name of the worker running it (default ``host:pid``).

    Returns
    -------
    JobResult
        Also recorded in the lake's ``ingest_runs`` table with every attempt's start, when the lake
        exists: no lake is created only to record attempts that wrote nothing (the driver records such
        outcomes once another job has made the lake, see :func:`~npc_lake.distributed.run.ingest_sources`).
    """
    worker = worker or local_worker_name()
    attempt = _previous_attempts(job)
    started = time.monotonic()
    recording = lake_exists(job.lake_uri)  # no lake is created only to record that nothing could be read
    while True:
        attempt += 1
        if recording:
            record_results(job.lake_uri, [JobResult(source_uri=job.source_uri, run_id=job.run_id, status="started",
                                                    attempt=attempt, duration_s=time.monotonic() - started,
                                                    worker=worker)])
        try:
            result = _attempt(job, attempt, worker, started)
        except Exception as exc:  # a job reports every failure; it never takes the executor down
            transient = is_transient(exc)
            if transient and attempt < job.max_attempts:
                time.sleep(job.backoff_s * 2 ** (attempt - 1) * (0.5 + random.random()))
                continue
            result = JobResult(source_uri=job.source_uri, run_id=job.run_id, status="failed", attempt=attempt,
                               duration_s=time.monotonic() - started, worker=worker,
                               session_id=getattr(exc, "session_id", None), error_class=type(exc).__name__,
                               error_message=plain_message(exc) or type(exc).__name__, transient=transient)
        if recording or result.status == "ok":
            return replace(result, recorded=record_results(job.lake_uri, [result]))
        return result
