"""One session of the lake out as an NWB file."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from npc_lake.export.metadata import with_subject
from npc_lake.export.nwbfile import check_output_path, write_nwbfile
from npc_lake.lake import Lake
from npc_lake.lake.read import read_session
from npc_lake.lake.snapshots import AsOf


def export_nwb(session_id: str, path: str | os.PathLike[str], *, lake: Lake | str | None = None,
               as_of: AsOf | None = None, overwrite: bool = False,
               subject: Mapping[str, str] | None = None, filtered_lfp: tuple[float, float] | None = None) -> Path:
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
        Export the session as of this ingest-log version, tag or time; the latest state if ``None``.
    overwrite
        Replace an existing file.
    subject
        Subject fields to fill in or replace in this file only (e.g. ``{"age": "P90D", "sex": "M"}``), for
        sources that lack what DANDI requires; the lake is not changed. See
        :func:`npc_lake.export.metadata.with_subject`.
    filtered_lfp
        (low, high) Hz: add a band-passed copy of each LFP recording whose samples are reachable, in
        ``processing/ecephys/FilteredEphys`` (zero-phase FIR, computed chunk by chunk while writing).

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
    SchemaError
        ``subject`` names a field the ``subjects`` table does not have, or a value that does not fit it.
    """
    target = check_output_path(path, overwrite=overwrite)  # before reading anything from the lake
    bundle = read_session(session_id, lake=lake, as_of=as_of)
    if subject:
        bundle = with_subject(bundle, subject)
    return write_nwbfile(bundle, target, overwrite=overwrite, filtered_lfp=filtered_lfp)
