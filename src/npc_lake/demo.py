"""``npc-lake demo``: a small synthetic lake, built and queried end to end."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.rule import Rule

from npc_lake.lake import Lake

DEMO_QUESTIONS = {
    "units_per_area": "Units passing QC per brain structure, across all sessions",
    "hit_rate_by_context": "Hit rate and false-alarm rate per session and rewarded modality",
    "spikes_per_unit": "Spikes per unit, per session",
    "visp_psth_by_context": "VISp units around vis1 onsets, by context (the psth SQL macro, across sessions)",
}


def run_demo(*, workdir: Path, lake: str | None = None, n_sessions: int = 3, n_units: int = 120,
             duration_s: float = 900.0, seed: int = 7) -> Lake:
    """Synthesize ``n_sessions`` DR sessions as NWB, ingest them, print four answers, export one session.

    Parameters
    ----------
    workdir
        Folder for the NWB files, and for the lake when ``lake`` is not given.
    lake
        Lake URI; defaults to ``<workdir>/lake``.
    n_sessions, n_units, duration_s, seed
        Size of the synthetic corpus.

    Returns
    -------
    Lake
        The lake that was filled.
    """
    from npc_lake.export.session import export_nwb
    from npc_lake.query.duckdb import run_sql
    from npc_lake.query.sqlfiles import example_queries
    from npc_lake.testing import write_synthetic_nwb
    from npc_lake.ui import ingest_with_progress, write_frame

    console = Console(highlight=False, soft_wrap=True)
    handle = Lake.open(lake if lake is not None else workdir / "lake")
    console.print(Rule(f"1. synthesize {n_sessions} Dynamic Routing sessions"))
    paths = write_synthetic_nwb(workdir / "nwb", n_sessions=n_sessions, n_units=n_units, duration_s=duration_s,
                                seed=seed, overwrite=True)
    for path in paths:
        console.print(f"  {path}  ({path.stat().st_size / 1e6:.1f} MB)")
    console.print(Rule(f"2. ingest into {handle.uri}"))
    failures = ingest_with_progress([str(p) for p in paths], lake=handle.uri)
    if failures:
        raise SystemExit(1)
    queries = example_queries()
    for number, (name, title) in enumerate(DEMO_QUESTIONS.items(), start=3):
        console.print(Rule(f"{number}. {title}"))
        console.print(queries[name].strip(), style="dim", soft_wrap=True)
        write_frame(run_sql(queries[name], lake=handle.uri), fmt="table")
    first = paths[0].stem
    console.print(Rule(f"{number + 1}. export session {first} from the lake to NWB"))
    exported = export_nwb(first, workdir / "export" / f"{first}.nwb", lake=handle, overwrite=True)
    console.print(f"  {exported}  ({exported.stat().st_size / 1e6:.1f} MB), rebuilt from lake rows only")
    console.print(Rule("next"))
    console.print(f"  npc-lake sql --lake {handle.uri} \"SELECT * FROM sessions\"")
    console.print(f"  npc-lake describe units --lake {handle.uri}")
    console.print(f"  npc-lake export-nwb {first} -o {first}.nwb --lake {handle.uri}")
    console.print(f"  npc-lake plot psth {first} --structure VISp -o psth.png --lake {handle.uri}"
                  '   (pip install -e ".[plot]")', markup=False)
    return handle
