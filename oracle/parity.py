"""Generate raw DR sessions, run the reference (npc_sessions) and npc_lake on each, and report parity.

Run with npc_lake's environment (the reference runs in its own, as a subprocess in a network namespace
with no interfaces); ``oracle/run`` builds both and calls this::

    python oracle/parity.py --reference-python REF_VENV/bin/python --work DIR [--seeds 0 1 2] [--json FILE]

For every case (seed x opto/plain) it writes a flat raw session folder with
``npc_lake.testing.synth_raw.write_raw_session``, has ``oracle/reference.py`` build the session and dump its
NWB tables, ingests the same folder, and the NWB file the reference wrote, into two npc_lake lakes, and
compares each with the reference's tables (:mod:`npc_lake.testing.parity`). Differences named in
``oracle/differences.toml`` are reported as KNOWN with their reason; any other is a failure, and the exit
status is 1.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import polars as pl

import npc_lake
from npc_lake.testing.parity import (
    REFERENCE_TABLES,
    compare_tables,
    format_report,
    lake_tables,
    read_known_differences,
    read_reference_dump,
    unexplained,
)
from npc_lake.testing.synth_raw import write_raw_session

HERE = Path(__file__).resolve().parent


def run_reference(python: Path, folder: Path, out: Path) -> dict[str, object]:
    """Run oracle/reference.py on ``folder`` with no network (``unshare -n``); its JSON report."""
    command = [str(python), str(HERE / "reference.py"), str(folder), str(out)]
    if shutil.which("unshare") and os.geteuid() == 0:
        command = ["unshare", "-n", *command]
    env = {**os.environ, "AWS_EC2_METADATA_DISABLED": "true", "NO_PROXY": "*"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=1800, check=False)
    (out / "reference.log").parent.mkdir(parents=True, exist_ok=True)
    (out / "reference.log").write_text(done.stdout + done.stderr)
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-25:])
        raise RuntimeError(f"the reference failed on {folder} (exit {done.returncode}):\n{tail}")
    report: dict[str, object] = json.loads((out / "reference.json").read_text())
    return report


def lake_frames(lake: Path) -> dict[str, pl.DataFrame]:
    """The lake tables the reference's tables are compared with."""
    wanted = sorted({spec[0] for spec in REFERENCE_TABLES.values()})
    return {name: npc_lake.scan(name, lake=str(lake)).collect() for name in wanted}


def run_case(*, seed: int, opto: bool, work: Path, reference_python: Path, duration_s: float) -> dict[str, object]:
    """One generated session through both stacks; the comparison of raw-folder and reference-NWB ingests."""
    case = work / f"seed{seed}_{'opto' if opto else 'plain'}"
    if case.exists():
        shutil.rmtree(case)
    truth = write_raw_session(case / "raw", index=seed, seed=seed, n_units=20, duration_s=duration_s,
                              opto=opto, layout="flat")
    started = time.perf_counter()
    report = run_reference(reference_python, truth.folder, case / "reference")
    reference_s = time.perf_counter() - started
    reference = read_reference_dump(case / "reference")
    started = time.perf_counter()
    npc_lake.ingest(truth.folder, lake=str(case / "lake_raw"))
    npc_lake.ingest(str(report["nwb"]), lake=str(case / "lake_nwb"))
    lake_s = time.perf_counter() - started
    raw = lake_tables(lake_frames(case / "lake_raw"), session_id=truth.session_id)
    nwb = lake_tables(lake_frames(case / "lake_nwb"), session_id=truth.session_id)
    return {"case": case.name, "session_id": truth.session_id, "reference": reference, "raw": raw, "nwb": nwb,
            "versions": report["versions"], "stand_ins": report["stand_ins"], "reference_s": reference_s,
            "lake_s": lake_s}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference-python", type=Path, required=True)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--duration-s", type=float, default=600.0)
    parser.add_argument("--known", type=Path, default=HERE / "differences.toml")
    parser.add_argument("--json", type=Path, help="also write the differences as JSON here")
    args = parser.parse_args(argv)
    known = read_known_differences(args.known)
    failures, summary, versions = 0, [], {}
    for seed in args.seeds:
        for opto in (False, True):
            result = run_case(seed=seed, opto=opto, work=args.work, reference_python=args.reference_python,
                              duration_s=args.duration_s)
            versions = result["versions"]
            for source in ("raw", "nwb"):
                parity = compare_tables(result["reference"], result[source])  # type: ignore[arg-type]
                title = (f"== {result['case']} ({result['session_id']}): npc_lake from the "
                         f"{'raw folder' if source == 'raw' else 'reference NWB file'} vs the reference")
                print(format_report(parity, known, title=title), end="\n\n")
                bad = unexplained(parity, known)
                failures += len(bad)
                summary.append({"case": result["case"], "source": source, "unexplained": len(bad),
                                "differences": [d.__dict__ for r in parity for d in r.differences]})
            print(f"   reference {result['reference_s']:.1f} s, npc_lake ingests {result['lake_s']:.1f} s\n")
    print("reference stack:", ", ".join(f"{k} {v}" for k, v in sorted(versions.items())))
    print(f"stand-ins: {'; '.join(result['stand_ins'])}")  # type: ignore[arg-type]
    print(f"parity: {failures} unexplained difference(s) over {len(summary)} comparisons")
    if args.json:
        args.json.write_text(json.dumps({"versions": versions, "comparisons": summary}, indent=2, default=str))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
