"""PSTH of 500 units x 500 trials across 20 sessions: `npc_lake.analysis.psth` (its NumPy and its numba
counting engine) against the shipped DuckDB `psth` macro, on an existing lake (the benchmark corpus of
benchmarks/run.py, or any lake).

Units and trials are drawn at random (fixed seed) from the QC-passing units and the stimulus trials of the
first N sessions, the same number from each session. Every measurement is a fresh process, so each
includes opening the lake, importing the engine and (for numba) loading the compiled kernel from its
cache; the median of the repeats is reported, and the answers are checked to be identical.

    python benchmarks/psth.py --lake benchmarks/corpus/n20/lake --sessions 20 --units 500 --trials 500
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

_RUN = """
import sys, time
import polars as pl
engine, lake, units_path, events_path, out = sys.argv[1:6]
start = time.perf_counter()
units = pl.read_parquet(units_path)
events = pl.read_parquet(events_path)
if engine in ("numpy", "numba"):
    from npc_lake.analysis import psth
    result = psth(units, events, lake=lake, window=(-0.5, 1.0), bin_size=0.01, by=("stim_name",), engine=engine)
else:
    from npc_lake.query.duckdb import connect
    con = connect(lake)
    con.register("chosen_units", units.select("session_id", "unit_id").to_arrow())
    con.register("chosen_events", events.to_arrow())
    result = con.sql("SELECT * FROM psth('chosen_units', 'chosen_events', window_start := -0.5, "
                     "window_stop := 1.0, bin_size := 0.01)").pl()
elapsed = time.perf_counter() - start
key = ["session_id", "unit_id", "stim_name", "bin_index"]
result.sort(key).select(*key, "spike_count", "n_events").write_parquet(out)
print(elapsed)
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lake", required=True, help="an existing lake")
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--units", type=int, default=500, help="units in all (spread evenly over the sessions)")
    parser.add_argument("--trials", type=int, default=500, help="trials in all (spread evenly over the sessions)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    import polars as pl

    from npc_lake.lake import Lake

    lake = Lake.open(args.lake)
    sessions = lake.scan("sessions").select("session_id").sort("session_id").head(args.sessions).collect()
    chosen = sessions["session_id"].to_list()
    per_units, per_trials = args.units // len(chosen), args.trials // len(chosen)
    units = (lake.scan("units").filter(pl.col("session_id").is_in(chosen) & pl.col("default_qc"))
             .select("session_id", "unit_id", "structure", "default_qc").collect()
             .filter(pl.int_range(pl.len()).shuffle(seed=args.seed).over("session_id") < per_units))
    events = (lake.scan("trials").filter(pl.col("session_id").is_in(chosen) & pl.col("stim_start_time").is_not_nan())
              .select("session_id", pl.col("stim_start_time").alias("event_time"), "stim_name").collect()
              .filter(pl.int_range(pl.len()).shuffle(seed=args.seed).over("session_id") < per_trials))
    work = Path(tempfile.mkdtemp(prefix="npc_lake_psth_"))
    units.write_parquet(work / "units.parquet")
    events.write_parquet(work / "events.parquet")
    seconds: dict[str, list[float]] = {"numpy": [], "numba": [], "duckdb": []}
    for _ in range(args.repeats):
        for engine in seconds:
            out = subprocess.run([sys.executable, "-c", _RUN, engine, args.lake, str(work / "units.parquet"),
                                  str(work / "events.parquet"), str(work / f"{engine}.parquet")],
                                 check=True, capture_output=True, text=True).stdout
            seconds[engine].append(float(out.strip().splitlines()[-1]))
    answers = {engine: pl.read_parquet(work / f"{engine}.parquet") for engine in seconds}
    same = answers["numba"].equals(answers["duckdb"]) and answers["numpy"].equals(answers["duckdb"])
    spikes = int(answers["numba"]["spike_count"].sum())
    print(f"{units.height} units x {events.height} trials in {len(chosen)} sessions, window -0.5..1.0 s, 10 ms bins "
          f"({answers['numba'].height:,} rows, {spikes:,} spikes counted); answers identical: {same}\n")
    print("| engine | median s | runs (s) |\n|---|---:|---|")
    for engine, runs in seconds.items():
        print(f"| {engine} | {statistics.median(runs):.3f} | {', '.join(f'{r:.3f}' for r in runs)} |")
    print(json.dumps({"units": units.height, "trials": events.height, "sessions": len(chosen), "identical": same,
                      **{engine: statistics.median(runs) for engine, runs in seconds.items()}}))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
