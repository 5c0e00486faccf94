from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa

from npc_lake.lake import Lake
from npc_lake.lake.stream import write_partition_stream


def batches(session_id: str, n_batches: int, rows: int, seed: int) -> tuple[pa.Schema, list[pa.RecordBatch]]:
    rng = np.random.default_rng(seed)
    frames = [pl.DataFrame({"session_id": [session_id] * rows, "unit_id": [f"{session_id}_A-{b}"] * rows,
                            "spike_time": np.sort(rng.uniform(0, 100, rows)),
                            "amplitude": rng.normal(50, 5, rows).astype(np.float32)}) for b in range(n_batches)]
    tables = [f.to_arrow() for f in frames]
    return tables[0].schema, [b for t in tables for b in t.to_batches()]


def write(lake: Lake, **options: object) -> int:
    return write_partition_stream(lake, table_name="spike_times", **options).version()  # type: ignore[arg-type]


def test_stream_rolls_files_records_stats_and_replaces_one_partition(tmp_path: Path) -> None:
    lake = Lake.open(tmp_path / "lake")
    schema, first = batches("600001_2024-01-02", 5, 1000, seed=1)
    write(lake, session_id="600001_2024-01-02", batches=iter(first), schema=schema, rows_per_file=2000)
    schema, other = batches("600002_2024-01-03", 2, 500, seed=2)
    write(lake, session_id="600002_2024-01-03", batches=iter(other), schema=schema)
    table = lake.delta_table("spike_times")
    assert table is not None
    assert len(table.file_uris()) == 3 + 1  # 5000 rows at 2000 per file, plus the other session's file
    log = (Path(lake.table_uri("spike_times")) / "_delta_log" / "00000000000000000000.json").read_text()
    stats = [json.loads(json.loads(line)["add"]["stats"]) for line in log.splitlines() if '"add"' in line]
    assert sum(s["numRecords"] for s in stats) == 5000
    assert all(0 <= s["minValues"]["spike_time"] <= s["maxValues"]["spike_time"] <= 100 for s in stats)
    # replace the first session with fewer rows: the other session is untouched, old files are not read
    schema, again = batches("600001_2024-01-02", 1, 10, seed=3)
    version = write(lake, session_id="600001_2024-01-02", batches=iter(again), schema=schema)
    assert version == 2
    counts = lake.scan("spike_times").group_by("session_id").len().sort("session_id").collect()
    assert counts["len"].to_list() == [10, 1000]
