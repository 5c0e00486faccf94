"""Fan the per-session pipeline out over many sources: in-process, a local process pool, or Dask.

``make_executor(name, workers=..., scheduler=...)`` picks where jobs run; every executor runs the same
:func:`run_job`, which ingests one source and records its attempts in the lake's ``ingest_runs`` table.
Dask is imported only by :mod:`npc_lake.distributed.dask`, when that executor is chosen.
"""

from npc_lake.distributed.executors import EXECUTORS, Executor, make_executor
from npc_lake.distributed.jobs import IngestJob, JobResult, is_transient, new_run_id, run_job
from npc_lake.distributed.status import ingest_status

__all__ = ["EXECUTORS", "Executor", "IngestJob", "JobResult", "ingest_status", "is_transient", "make_executor",
           "new_run_id", "run_job"]
