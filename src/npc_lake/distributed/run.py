"""Ingest many sources: expand what the user named, make one job per source, run them on an executor."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

from npc_lake.distributed.executors import Executor, make_executor
from npc_lake.distributed.jobs import IngestJob, JobResult, lake_exists, new_run_id, record_results
from npc_lake.errors import SourceError

#: A source naming a file with this suffix is a list of sources, one per line.
SOURCE_LIST_SUFFIX = ".txt"


def resolve_against(entry: str, folder: Path) -> str:
    """``entry`` (a path or URI named in a file) as is when absolute or remote, else relative to ``folder``."""
    if "://" in entry or os.path.isabs(entry):
        return entry
    return str(folder / entry)


def read_source_list(path: str | os.PathLike[str]) -> list[str]:
    """Sources listed in a text file: one per line; blank lines and ``#`` comments are skipped, and
    relative paths are taken relative to the file's folder."""
    listing = Path(path)
    try:
        lines = listing.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise SourceError(str(listing), f"cannot read the source list: {exc}") from None
    sources = []
    for line in lines:
        entry = line.split("#", 1)[0].strip()
        if not entry:
            continue
        sources.append(resolve_against(entry, listing.parent))
    return sources


def expand_sources(sources: Sequence[str]) -> list[str]:
    """Every source ``sources`` names: ``s3://`` patterns are listed, ``.txt`` files read as source lists.

    Raises
    ------
    SourceError
        A pattern could not be listed or a list could not be read.
    """
    from npc_lake.sources.remote import expand_remote, is_remote

    expanded: list[str] = []
    for source in sources:
        if is_remote(source):
            expanded += expand_remote(source)
        elif source.endswith(SOURCE_LIST_SUFFIX) and Path(source).is_file():
            expanded += expand_sources(read_source_list(source))
        else:
            expanded.append(source)
    return list(dict.fromkeys(expanded))  # each source once, in the order named


def ingest_sources(sources: Sequence[str], *, lake: str, executor: str | Executor = "inprocess", workers: int = 1,
                   scheduler: str | None = None, run_id: str | None = None, max_attempts: int = 3,
                   on_result: Callable[[JobResult], None] | None = None,
                   **options: object) -> list[JobResult]:
    """Ingest every source (already expanded) into ``lake``, one job each, on ``executor``.

    Parameters
    ----------
    sources
        Sources as :func:`npc_lake.pipeline.ingest` takes them.
    lake
        The lake URI (workers open it themselves).
    executor
        ``"inprocess"``, ``"process"``, ``"dask"`` or an :class:`Executor` to reuse.
    workers, scheduler
        See :func:`~npc_lake.distributed.executors.make_executor`.
    run_id
        Id recorded with every attempt (a new one by default).
    max_attempts
        Attempts per source when errors are transient.
    on_result
        Called in the driver with each result as its job ends.
    **options
        ``force``, ``sort_spikes``, ``replace``, ``source_format`` for every job.

    Returns
    -------
    list of JobResult
        In the order the jobs ended.
    """
    run_id = run_id or new_run_id()
    jobs = [IngestJob(source_uri=source if "://" in source else os.path.abspath(source), lake_uri=lake,
                      run_id=run_id, options=dict(options), max_attempts=max_attempts) for source in sources]
    owned = not isinstance(executor, Executor)
    runner = make_executor(executor, workers=workers, scheduler=scheduler) if isinstance(executor, str) else executor
    results: list[JobResult] = []
    try:
        for result in runner.run(jobs):
            results.append(result)
            if on_result is not None:
                on_result(result)
    finally:
        if owned:
            runner.close()
    unrecorded = [r for r in results if not r.recorded]
    if unrecorded and lake_exists(lake):  # jobs that ran before the lake existed
        record_results(lake, unrecorded)
    return results
