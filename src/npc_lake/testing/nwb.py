"""Synthetic Dynamic Routing sessions written as NWB files (by the same code that exports the lake)."""

from __future__ import annotations

import os
from pathlib import Path

from npc_lake.testing.synth import synth_session


def write_synthetic_nwb(out: str | os.PathLike[str], *, n_sessions: int = 1, n_units: int = 300,
                        duration_s: float = 600.0, seed: int = 0, first_index: int = 0,
                        overwrite: bool = False) -> list[Path]:
    """Write ``n_sessions`` synthetic DR sessions as ``<session_id>.nwb`` files into folder ``out``.

    Parameters
    ----------
    out
        Folder for the files (created if missing).
    n_sessions, n_units, duration_s, seed
        Size and seed of the corpus; the same arguments always give the same files' contents.
    first_index
        Index of the first session in the corpus (to extend a corpus without rewriting it).
    overwrite
        Replace files that exist.

    Returns
    -------
    list of pathlib.Path
        The files written, in session order.
    """
    from npc_lake.export.nwbfile import write_nwbfile

    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(first_index, first_index + n_sessions):
        bundle = synth_session(index, n_units=n_units, duration_s=duration_s, seed=seed)
        paths.append(write_nwbfile(bundle, folder / f"{bundle.session_id}.nwb", overwrite=overwrite))
    return paths
