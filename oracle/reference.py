"""Run the reference stack (npc_sessions) on one local raw DR session folder and dump what it makes.

Runs inside the reference environment (oracle/requirements.txt), never in npc_lake's: it imports
npc_sessions and its dependencies only. Usage::

    python oracle/reference.py SESSION_FOLDER OUT_DIR [--ephys]

It builds ``npc_sessions.DynamicRoutingSession(SESSION_FOLDER)``, writes the session's NWB file to
``OUT_DIR/<session_id>.nwb`` with ``write_nwb``, reads that file back with pynwb and writes every table
and series it holds to ``OUT_DIR/tables/<path>.parquet`` (``/`` in NWB paths becomes ``.``), plus
``OUT_DIR/reference.json`` with the versions of the stack and the stand-ins used.

Stand-ins for what the reference looks up over the network (each named in the report):

- ``npc_lims.get_session_info`` raises ``ValueError`` (the reference's own "session not tracked" path);
- the subject is ``pynwb.file.Subject(subject_id=...)`` from the folder name (no training-sheet or AIND
  metadata lookup);
- ``npc_lims.get_training_spreadsheet_paths`` finds no spreadsheet, so ``is_stage_5_passed`` is False
  (the reference's own answer for a subject it does not track);
- the session is given ``is_ephys`` (from ``--ephys``), ``is_sync=True`` and ``is_video=False``.

The process is meant to run in a network namespace with no interfaces (``unshare -n``), so any other
network attempt fails loudly.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import logging
import os
import sys
from pathlib import Path

os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
STACK = ("npc_sessions", "npc_sync", "npc_stim", "npc_ephys", "npc_samstim", "npc_lims", "npc_session",
         "DynamicRoutingTask", "pynwb", "hdmf", "numpy", "pandas", "polars", "pyarrow")


def _no_session_info(*args: object, **kwargs: object) -> None:
    raise ValueError("stand-in: the session-info lookup (npc_lims) is not available offline")


def _no_training_sheets() -> tuple[()]:
    return ()


def build_session(folder: Path, *, ephys: bool):
    import npc_lims
    import pynwb

    npc_lims.get_session_info = _no_session_info
    npc_lims.get_training_spreadsheet_paths = _no_training_sheets
    import npc_sessions

    session = npc_sessions.DynamicRoutingSession(folder, is_ephys=ephys, is_sync=True, is_video=False)
    session.__dict__["subject"] = pynwb.file.Subject(subject_id=str(session.id.subject))
    return session


def dump_nwb(path: Path, out: Path) -> list[str]:
    """Every DynamicTable and TimeSeries of the file as a parquet file; returns the names written."""
    import numpy as np
    import pandas as pd
    import pynwb

    written = []
    out.mkdir(parents=True, exist_ok=True)
    with pynwb.NWBHDF5IO(str(path), "r", load_namespaces=True) as io:
        nwb = io.read()
        for obj in nwb.objects.values():
            where = obj.get_ancestor("NWBFile")
            name = _nwb_path(obj)
            if name is None or where is None:
                continue
            if isinstance(obj, pynwb.core.DynamicTable):
                frame = obj.to_dataframe(index=True).reset_index()
                frame = frame[[c for c in frame.columns if _flat(frame[c])]]
            elif isinstance(obj, pynwb.TimeSeries) and obj.timestamps is not None:
                data = np.asarray(obj.data[:])
                frame = pd.DataFrame({"timestamps": np.asarray(obj.timestamps[:])})
                if data.ndim == 1 and data.size == frame.shape[0]:
                    frame["data"] = data
            elif type(obj).__name__ == "Events":  # ndx-events 0.2
                frame = pd.DataFrame({"timestamps": np.asarray(obj.timestamps[:])})
            else:
                continue
            frame.to_parquet(out / f"{name}.parquet")
            written.append(name)
    return sorted(written)


def _nwb_path(obj) -> str | None:
    parts = []
    while obj is not None and type(obj).__name__ != "NWBFile":
        parts.append(obj.name)
        obj = obj.parent
    return ".".join(reversed(parts)) if parts else None


def _flat(column) -> bool:
    """Columns of scalars only (ragged and object columns of arrays are left out of the dump)."""
    values = column.dropna()
    return values.empty or not hasattr(values.iloc[0], "__len__") or isinstance(values.iloc[0], str)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--ephys", action="store_true", help="read the Open Ephys and sorted data too")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    session = build_session(args.folder, ephys=args.ephys)
    args.out.mkdir(parents=True, exist_ok=True)
    nwb_path = session.write_nwb(args.out / f"{session.id}.nwb", force=True)
    tables = dump_nwb(Path(nwb_path), args.out / "tables")
    report = {"session_id": str(session.id), "nwb": str(nwb_path), "tables": tables,
              "versions": {name: importlib.metadata.version(name) for name in STACK},
              "stand_ins": ["npc_lims.get_session_info raises ValueError", "subject from the folder name",
                            "no training spreadsheets (is_stage_5_passed False)",
                            f"is_ephys={args.ephys}, is_sync=True, is_video=False"]}
    (args.out / "reference.json").write_text(json.dumps(report, indent=2))
    print(json.dumps({"session_id": report["session_id"], "tables": tables}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
