"""One session of the lake out as an NWB file."""

from __future__ import annotations

import os
from pathlib import Path

from npc_lake.export.nwbfile import check_output_path, write_nwbfile
from npc_lake.lake import Lake
from npc_lake.lake.read import read_session


def export_nwb(session_id: str, path: str | os.PathLike[str], *, lake: Lake | str | None = None,
               as_of: int | None = None, overwrite: bool = False) -> Path:
    """Write session ``session_id`` of the lake to the NWB file ``path``, from lake rows only.

    Parameters
    ----------
    session_id
        A session in the lake.
    path
        The NWB file to write.
    lake
        The lake (handle, URI or ``None`` for ``$NPC_LAKE_URI`` / ``./lake``).
    as_of
        Ingest-log version to export the session as of; the latest state if ``None``.
    overwrite
        Replace an existing file.

    Returns
    -------
    pathlib.Path
        The written file.

    Raises
    ------
    LakeError
        The session is not in the lake (as of ``as_of``), or the ingest log has no such version.
    NpcLakeError
        ``path`` exists and ``overwrite`` is false.
    """
    target = check_output_path(path, overwrite=overwrite)  # before reading anything from the lake
    return write_nwbfile(read_session(session_id, lake=lake, as_of=as_of), target, overwrite=overwrite)
