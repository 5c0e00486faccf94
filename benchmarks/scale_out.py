"""Sessions per minute of `npc-lake ingest` with 1, 2 and 4 workers, per executor, into a local lake and
(with --s3) into an S3 lake on a SeaweedFS server started on 127.0.0.1.

Every run is a fresh process (`python -m npc_lake.cli ingest ...`) into a fresh lake, timed from start to
exit, so the Dask runs include starting their LocalCluster. Prints a Markdown table and a JSON line.

    python benchmarks/scale_out.py --sessions 16 --units 150 --duration-s 600 --workers 1 2 4 --s3
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path


def _ingest(files: list[Path], lake: str, executor: str, workers: int, env: dict[str, str]) -> tuple[float, float]:
    """Seconds of one ingest command, and the peak RSS (MB) of its largest process (driver or worker)."""
    script = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
              "subprocess.run(sys.argv[1:], check=True, capture_output=True); "
              "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)")
    command = [sys.executable, "-m", "npc_lake.cli", "ingest", *map(str, files), "--lake", lake,
               "--executor", executor, "--jobs", str(workers)]
    out = subprocess.run([sys.executable, "-c", script, *command], env=env, check=True, capture_output=True,
                         text=True).stdout.split()
    return float(out[0]), float(out[1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=16)
    parser.add_argument("--units", type=int, default=150)
    parser.add_argument("--duration-s", type=float, default=600.0)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--executors", nargs="+", default=["process", "dask"])
    parser.add_argument("--s3", action="store_true", help="also ingest into an S3 lake (SeaweedFS on 127.0.0.1)")
    args = parser.parse_args(argv)

    from npc_lake.testing import write_synthetic_nwb

    work = Path(tempfile.mkdtemp(prefix="npc_lake_scale_"))
    files = write_synthetic_nwb(work / "nwb", n_sessions=args.sessions, n_units=args.units,
                                duration_s=args.duration_s, seed=4)
    targets: list[tuple[str, dict[str, str], str]] = [("local", dict(os.environ), str(work / "lakes"))]
    server = None
    if args.s3:
        from npc_lake.testing.s3server import S3Server

        server = S3Server(data_dir=work / "s3").start()
        targets.append(("S3", {**os.environ, **server.env}, "s3://lake"))
    rows = []
    try:
        for where, env, base in targets:
            for executor in args.executors:
                for workers in args.workers:
                    lake = f"{base}/{executor}-{workers}-{uuid.uuid4().hex[:8]}"
                    seconds, peak_mb = _ingest(files, lake, executor, workers, env)
                    rows.append({"lake": where, "executor": executor, "workers": workers, "seconds": seconds,
                                 "sessions_per_min": 60 * args.sessions / seconds, "peak_rss_mb": peak_mb})
    finally:
        if server is not None:
            server.stop()
    print(f"{args.sessions} sessions x {args.units} units x {args.duration_s:g} s; {os.cpu_count()} cores\n")
    print("| lake | executor | workers | seconds | sessions / min | largest process peak RSS MB |\n"
          "|---|---|---:|---:|---:|---:|")
    for row in rows:
        print(f"| {row['lake']} | {row['executor']} | {row['workers']} | {row['seconds']:.1f} | "
              f"{row['sessions_per_min']:.1f} | {row['peak_rss_mb']:.0f} |")
    print(json.dumps(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
