"""One measurement in a fresh process; prints one JSON line. Run by run.py, not by hand.

    python worker.py answer ENGINE QUESTION CORPUS [--answer FILE]   # one engine answering one question
    python worker.py ingest NWB_FILE LAKE                            # ingest one session (npc_lake)
    python worker.py h5py-floor NWB_FILE                             # read its spike arrays with h5py

Imports and opening the lake / listing the files happen before the clock starts ("setup_s" reports
them); "peak_rss" is the process's peak resident set size in bytes.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def peak_rss() -> int:
    """This process's peak RSS in bytes. VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the
    parent across fork + exec, so a small worker started by a big runner would report the runner's."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def answer(engine_name: str, question: str, corpus: Path, answer_path: str | None) -> dict[str, object]:
    started = time.perf_counter()
    if engine_name in ("pynwb", "lazynwb"):
        from engine_nwb import ENGINES
        target = corpus / "nwb"
    else:
        from engine_lake import ENGINES  # type: ignore[no-redef]
        target = corpus / "lake"
    session_id = sorted(p.stem for p in (corpus / "nwb").glob("*.nwb"))[0]
    engine = ENGINES[engine_name](str(target), session_id)
    setup = time.perf_counter() - started
    t0 = time.perf_counter()
    frame = engine.answer(question)
    seconds = time.perf_counter() - t0
    if answer_path:
        frame.write_parquet(answer_path)
    return {"seconds": seconds, "setup_s": setup, "rows": frame.height, "peak_rss": peak_rss()}


def ingest(nwb_file: Path, lake: Path) -> dict[str, object]:
    from npc_lake.pipeline import ingest as ingest_session

    t0 = time.perf_counter()
    result = ingest_session(nwb_file, lake=str(lake))
    seconds = time.perf_counter() - t0
    import npc_lake

    spikes = npc_lake.run_sql("SELECT count(*) AS n FROM spike_times", lake=str(lake))["n"][0]
    return {"seconds": seconds, "spikes": int(spikes), "session_id": result.session_id, "peak_rss": peak_rss()}


def h5py_floor(nwb_file: Path) -> dict[str, object]:
    import h5py

    t0 = time.perf_counter()
    with h5py.File(nwb_file, "r") as f:
        n = 0
        for name in ("spike_times", "spike_amplitudes"):
            if name in f["units"]:
                n = max(n, f["units"][name][:].shape[0])
    return {"seconds": time.perf_counter() - t0, "spikes": n, "peak_rss": peak_rss()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("mode", choices=["answer", "ingest", "h5py-floor"])
    parser.add_argument("args", nargs="+")
    parser.add_argument("--answer", default=None)
    options = parser.parse_args()
    if options.mode == "answer":
        engine_name, question, corpus = options.args
        out = answer(engine_name, question, Path(corpus), options.answer)
    elif options.mode == "ingest":
        out = ingest(Path(options.args[0]), Path(options.args[1]))
    else:
        out = h5py_floor(Path(options.args[0]))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
