"""Build a synthetic DR corpus, answer the six questions with every engine, and write BENCHMARKS.md.

    python benchmarks/run.py                       # 20 sessions x 3,000 units x 1,200 s; see README.md
    python benchmarks/run.py --full                # 7,000 s sessions
    python benchmarks/run.py --sessions 2 --units 40 --duration-s 120 --scaling 1,2 --repeats 1   # a smoke run

Every measurement is a fresh process (worker.py): imports and opening the lake or listing the files
first, then the clock. The corpus is kept in --corpus and reused when its parameters match.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import polars as pl

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from questions import QUESTIONS, digest  # noqa: E402
from report import write_report  # noqa: E402

LAKE_ENGINES = ("duckdb", "polars", "pyarrow-floor")
NWB_ENGINES = ("pynwb", "lazynwb")


def _worker(python: str, *args: str, answer: Path | None = None, env: dict[str, str] | None = None) -> dict[str, Any]:
    command = [python, str(HERE / "worker.py"), *args] + (["--answer", str(answer)] if answer else [])
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def _count_spikes(lake: Path) -> int:
    import npc_lake

    return int(npc_lake.run_sql("SELECT count(*) AS n FROM spike_times", lake=str(lake))["n"][0])


def build_corpus(root: Path, *, sessions: int, units: int, duration_s: float, counts: list[int],
                 seed: int) -> dict[int, Path]:
    """NWB files for max(counts) sessions and, per count N, a folder ``nN`` with the first N files
    (symlinked) and a lake of them. Reused when ``corpus.json`` says the same parameters."""
    from npc_lake.pipeline import ingest
    from npc_lake.schema import SCHEMA_VERSION
    from npc_lake.testing import write_synthetic_nwb

    nwb_params = {"sessions": max([*counts, sessions]), "units": units, "duration_s": duration_s, "seed": seed}
    params = {**nwb_params, "schema_version": SCHEMA_VERSION}
    marker = root / "corpus.json"
    folders = {n: root / f"n{n}" for n in sorted({*counts, sessions})}
    known = json.loads(marker.read_text()) if marker.exists() else {}
    if known == params and all((f / "lake").exists() for f in folders.values()):
        return folders
    same_files = {k: known.get(k) for k in nwb_params} == nwb_params and (root / "nwb").is_dir()
    for path in [*folders.values(), root / "lake-building"] if same_files else [root]:
        shutil.rmtree(path, ignore_errors=True)
    print(f"building the corpus in {root}: {params}" + (" (NWB files kept)" if same_files else ""), flush=True)
    if same_files:
        files = sorted((root / "nwb").glob("*.nwb"))
    else:
        files = sorted(write_synthetic_nwb(root / "nwb", n_sessions=nwb_params["sessions"], n_units=units,
                                           duration_s=duration_s, seed=seed))
    lake = root / "lake-building"
    done = 0
    for n, folder in folders.items():
        for path in files[done:n]:
            ingest(path, lake=str(lake))
        done = n
        (folder / "nwb").mkdir(parents=True)
        for path in files[:n]:
            (folder / "nwb" / path.name).symlink_to(path.resolve())
        shutil.copytree(lake, folder / "lake")
        print(f"  {n} sessions ingested", flush=True)
    shutil.rmtree(lake)
    marker.write_text(json.dumps(params))
    return folders


def warm(folder: Path) -> None:
    """Read every file under ``folder`` once, so that timings start from the page cache like the others."""
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        with open(path, "rb") as handle:
            while handle.read(16 * 1024 * 1024):
                pass


def measure(engine: str, question: str, folder: Path, *, repeats: int, python: str,
            answers: Path) -> dict[str, Any]:
    """Median seconds and peak RSS over ``repeats`` fresh processes; the first run's answer is kept."""
    runs = []
    for repeat in range(repeats):
        answer = answers / f"{engine}-{question}.parquet" if repeat == 0 else None
        runs.append(_worker(python, "answer", engine, question, str(folder), answer=answer))
    result = {"engine": engine, "question": question, "seconds": statistics.median(r["seconds"] for r in runs),
              "setup_s": statistics.median(r["setup_s"] for r in runs),
              "peak_rss": max(r["peak_rss"] for r in runs), "rows": runs[0]["rows"], "repeats": repeats}
    if engine != "pyarrow-floor":
        result["digest"] = digest(question, pl.read_parquet(answers / f"{engine}-{question}.parquet"))
    return result


def startup(repeats: int) -> dict[str, float]:
    """Median wall time of a fresh ``import npc_lake`` and of ``npc-lake --help``."""
    cli = shutil.which("npc-lake", path=str(Path(sys.executable).parent)) or "npc-lake"
    out = {}
    for name, command in (("import npc_lake", [sys.executable, "-c", "import npc_lake"]),
                          ("npc-lake --help", [cli, "--help"])):
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            subprocess.run(command, capture_output=True, check=True)
            times.append(time.perf_counter() - t0)
        out[name] = statistics.median(times)
    return out


def ingest_throughput(nwb_file: Path, scratch: Path, *, repeats: int) -> dict[str, Any]:
    """One session ingested on one core (fresh lake each time), next to h5py reading its spike arrays."""
    env = {**os.environ, "POLARS_MAX_THREADS": "1", "RAYON_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    pin = ["taskset", "-c", "0"] if shutil.which("taskset") else []
    runs, floors = [], []
    for i in range(repeats):
        lake = scratch / f"ingest-{i}"
        shutil.rmtree(lake, ignore_errors=True)
        command = [*pin, sys.executable, str(HERE / "worker.py"), "ingest", str(nwb_file), str(lake)]
        done = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
        shutil.rmtree(lake, ignore_errors=True)
        floors.append(_worker(sys.executable, "h5py-floor", str(nwb_file)))
    seconds = statistics.median(r["seconds"] for r in runs)
    floor = statistics.median(r["seconds"] for r in floors)
    return {"spikes": runs[0]["spikes"], "seconds": seconds, "peak_rss": max(r["peak_rss"] for r in runs),
            "spikes_per_s": runs[0]["spikes"] / seconds, "h5py_seconds": floor,
            "h5py_peak_rss": max(r["peak_rss"] for r in floors), "one_core": bool(pin)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--units", type=int, default=3000)
    parser.add_argument("--duration-s", type=float, default=1200.0)
    parser.add_argument("--full", action="store_true", help="7,000 s sessions (the length of a DR recording)")
    parser.add_argument("--scaling", default="5,10,20,40", help="session counts for the scaling plot")
    parser.add_argument("--scaling-repeats", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--engines", default=",".join(LAKE_ENGINES + NWB_ENGINES))
    parser.add_argument("--lazynwb-python", default=os.environ.get("NPC_LAKE_LAZYNWB_PYTHON"),
                        help="python of a virtual environment with lazynwb (see README.md)")
    parser.add_argument("--corpus", type=Path, default=HERE / "corpus")
    parser.add_argument("--out", type=Path, default=HERE.parent / "BENCHMARKS.md")
    args = parser.parse_args(argv)
    duration = 7000.0 if args.full else args.duration_s
    counts = sorted({int(c) for c in args.scaling.split(",") if c.strip()})
    engines = [e for e in args.engines.split(",") if e]
    skipped = {}
    if "lazynwb" in engines and not args.lazynwb_python:
        engines.remove("lazynwb")
        skipped["lazynwb"] = "no --lazynwb-python given"
    python = {e: (args.lazynwb_python if e == "lazynwb" else sys.executable) for e in engines}

    started = time.perf_counter()
    folders = build_corpus(args.corpus, sessions=args.sessions, units=args.units, duration_s=duration,
                           counts=counts, seed=args.seed)
    main_folder = folders[args.sessions]
    answers = args.corpus / "answers"
    answers.mkdir(exist_ok=True)
    results = []
    for question in QUESTIONS:
        for engine in engines:
            results.append(measure(engine, question, main_folder, repeats=args.repeats, python=python[engine],
                                   answers=answers))
            r = results[-1]
            print(f"{question} {engine:14s} {r['seconds']:8.3f} s  {r['peak_rss'] / 1e6:7.0f} MB", flush=True)
    scaling = []
    for n, folder in folders.items():
        if n not in counts:
            continue
        for engine in engines:
            if engine == "pyarrow-floor":
                continue
            warm(folder / ("lake" if engine in LAKE_ENGINES else "nwb"))  # the other sizes may have evicted it
            total = sum(measure(engine, q, folder, repeats=args.scaling_repeats, python=python[engine],
                                answers=answers)["seconds"] for q in QUESTIONS if q != "q6")
            scaling.append({"sessions": n, "engine": engine, "seconds": total})
            print(f"scaling {n:3d} sessions {engine:10s} {total:8.3f} s", flush=True)
    first_nwb = sorted((main_folder / "nwb").glob("*.nwb"))[0]
    corpus = {"sessions": args.sessions, "units": args.units, "duration_s": duration,
              "nwb_bytes": sum(p.stat().st_size for p in (main_folder / "nwb").glob("*.nwb")),
              "lake_bytes": _folder_bytes(main_folder / "lake"), "spikes": _count_spikes(main_folder / "lake")}
    extra = {"startup": startup(args.repeats),
             "ingest": ingest_throughput(first_nwb, args.corpus, repeats=max(1, min(args.repeats, 3))),
             "skipped": skipped, "wall_minutes": (time.perf_counter() - started) / 60}
    write_report(args.out, results=results, scaling=scaling, corpus=corpus, extra=extra,
                 command=" ".join(["python", "benchmarks/run.py", *(argv if argv is not None else sys.argv[1:])]))
    print(f"wrote {args.out}")
    disagree = [q for q in QUESTIONS if len({r["digest"] for r in results if r["question"] == q and "digest" in r}) > 1]
    if disagree:
        print(f"engines disagree on {', '.join(disagree)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
