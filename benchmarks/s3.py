"""Concurrent ingest into an S3 lake (1 vs N writers) and query latency on S3 against a local lake.

Starts a SeaweedFS server on 127.0.0.1 (``npc_lake.testing.s3server``), writes synthetic NWB files,
ingests them with ``npc-lake ingest --jobs 1`` and ``--jobs N`` into fresh S3 lakes and into a local lake,
then times a few queries on both (fresh process each, median of the repeats). Prints a Markdown table.

    python benchmarks/s3.py --sessions 8 --units 100 --duration-s 300 --jobs 4 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

QUERIES = {
    "units per area": "SELECT structure, count(*) AS n FROM units WHERE default_qc GROUP BY 1",
    "hit rate per block": "SELECT session_id, block_index, avg(is_hit::INT) FROM trials GROUP BY 1, 2",
    "VISp spikes": "SELECT count(*), sum(spike_time) FROM spike_times WHERE structure = 'VISp' AND default_qc",
}
_TIME_QUERY = ("import sys, time; import npc_lake; t = time.perf_counter(); "
               "npc_lake.run_sql(sys.argv[1], lake=sys.argv[2]); print(time.perf_counter() - t)")


def _ingest(files: list[Path], lake: str, jobs: int, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "npc_lake.cli", "ingest", *map(str, files), "--lake", lake,
                    "--jobs", str(jobs)], env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def _query_seconds(sql: str, lake: str, env: dict[str, str], repeats: int) -> float:
    runs = [float(subprocess.run([sys.executable, "-c", _TIME_QUERY, sql, lake], env=env, check=True,
                                 capture_output=True, text=True).stdout.split()[-1]) for _ in range(repeats)]
    return statistics.median(runs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--units", type=int, default=100)
    parser.add_argument("--duration-s", type=float, default=300.0)
    parser.add_argument("--jobs", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    from npc_lake.testing import write_synthetic_nwb
    from npc_lake.testing.s3server import S3Server

    with tempfile.TemporaryDirectory() as scratch, S3Server() as server:
        files = write_synthetic_nwb(Path(scratch) / "nwb", n_sessions=args.sessions, n_units=args.units,
                                    duration_s=args.duration_s, seed=5)
        env = {**os.environ, **server.env}
        local = str(Path(scratch) / "lake")
        timings = {"local, 1 writer": _ingest(files, local, 1, env)}
        for jobs in sorted({1, args.jobs}):
            label = f"S3, {jobs} writer{'s' if jobs > 1 else ''}"
            timings[label] = _ingest(files, f"s3://lake/{uuid.uuid4().hex}", jobs, env)
        remote = f"s3://lake/{uuid.uuid4().hex}"
        _ingest(files, remote, args.jobs, env)
        print(f"{args.sessions} sessions x {args.units} units x {args.duration_s:g} s; SeaweedFS on 127.0.0.1\n")
        print("| ingest | seconds | sessions / min |\n|---|---:|---:|")
        for name, seconds in timings.items():
            print(f"| {name} | {seconds:.1f} | {60 * args.sessions / seconds:.1f} |")
        print("\n| query (fresh process, median) | local s | S3 s |\n|---|---:|---:|")
        for name, sql in QUERIES.items():
            print(f"| {name} | {_query_seconds(sql, local, env, args.repeats):.3f} | "
                  f"{_query_seconds(sql, remote, env, args.repeats):.3f} |")
        print(json.dumps({"ingest_seconds": timings}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
