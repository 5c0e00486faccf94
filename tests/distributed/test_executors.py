"""The same 12-source ingest gives identical tables in-process, in a process pool and on Dask."""

from __future__ import annotations

import os
from pathlib import Path

from npc_lake.distributed.run import ingest_sources
from npc_lake.lake import Lake
from npc_lake.lake.maintenance import check_lake

from lake_helpers import lake_rows


def test_every_executor_gives_identical_tables(corpus: tuple[list[Path], list[Path]], tmp_path: Path) -> None:
    good, corrupt = corpus
    sources = [str(p) for p in [*good, *corrupt]]
    tables = {}
    for executor in ("inprocess", "process", "dask"):
        lake = Lake.open(tmp_path / executor)
        results = ingest_sources(sources, lake=lake.uri, executor=executor, workers=2)
        assert sorted(r.status for r in results) == ["failed"] * 2 + ["ok"] * 10, executor
        assert {Path(r.source_uri).name for r in results if r.failed} == {p.name for p in corrupt}
        assert check_lake(lake).is_empty()
        tables[executor] = lake_rows(lake)
        if executor != "inprocess":  # the jobs ran in other processes than this one
            workers = {r.worker for r in results}
            assert len(workers) >= 1 and all(not w.endswith(f":{os.getpid()}") for w in workers)
    for executor in ("process", "dask"):
        for name, frame in tables["inprocess"].items():
            assert frame.equals(tables[executor][name], null_equal=True), (executor, name)
