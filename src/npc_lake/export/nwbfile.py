"""One session's lake frames → ``pynwb.NWBFile`` → HDF5 NWB file.

:func:`build_nwbfile` assembles the file from one small function per component, each reading only its
own table(s) of the :class:`~npc_lake.schema.SessionBundle`; :func:`write_nwbfile` writes it atomically.
Where each table goes:

=====================  ===============================================================================
sessions               NWBFile metadata (start time shown in the session's own UTC offset)
subjects               ``/general/subject``
devices                ``/general/devices`` (+ ``DeviceModel`` for manufacturer/model)
electrode_groups       ``/general/extracellular_ephys/<group>``
electrodes             ``/general/extracellular_ephys/electrodes`` (id = electrode_id)
units, spike_times     ``/units`` (spike_times, spike_amplitudes streamed from the spike batches)
trials, epochs         ``/intervals/trials``, ``/intervals/epochs``
intervals              ``/intervals/<interval_name>``; ``invalid_times`` → ``/intervals/invalid_times``
events                 TimeSeries (timestamps = event times) placed per ``nwb_path``
timeseries             TimeSeries placed per ``nwb_path``
recordings             ElectricalSeries at ``nwb_path`` whose data link to the file holding the samples
unit_responses, …      ``/analysis`` (see :mod:`npc_lake.export.analysis`)
intervals (opto)       ``/general/optogenetics`` sites (see :mod:`npc_lake.export.optogenetics`)
stimuli                ``/stimulus/templates`` (see :mod:`npc_lake.export.stimuli`)
=====================  ===============================================================================

Nulls: float → NaN; int/bool with nulls → float64 with NaN; str → ``""``; all-null columns are left out.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

from pynwb import NWBHDF5IO, NWBFile

from npc_lake.errors import NpcLakeError, SessionError
from npc_lake.export.analysis import add_analysis
from npc_lake.export.behavior import EVENTS_WITHOUT_VALUES, add_events, add_timeseries
from npc_lake.export.ecephys import add_devices, add_electrode_groups, add_electrodes
from npc_lake.export.intervals import add_epochs, add_intervals, add_trials
from npc_lake.export.metadata import add_metadata, add_session_extras, add_subject
from npc_lake.export.optogenetics import add_optogenetic_sites
from npc_lake.export.recordings import absolute_links, add_filtered_lfp, add_recordings, linked_files
from npc_lake.export.stimuli import add_stimulus_templates
from npc_lake.export.units import add_units
from npc_lake.schema import SessionBundle

#: The component steps of :func:`build_nwbfile`, in order (links need their targets first).
STEPS: tuple[Callable[[NWBFile, SessionBundle], None], ...] = (
    add_session_extras, add_subject, add_devices, add_electrode_groups, add_electrodes, add_units,
    add_trials, add_stimulus_templates, add_epochs, add_intervals, add_events, add_timeseries, add_analysis,
    add_optogenetic_sites,
)


def build_nwbfile(bundle: SessionBundle, *, files: ExitStack | None = None) -> NWBFile:
    """Build the NWBFile of one session from its lake frames.

    Parameters
    ----------
    bundle
        The session's frames and spike source.
    files
        Where the files holding the recordings' samples are opened (they must stay open until the
        file is written); without it they stay open until the NWBFile is garbage-collected.

    Returns
    -------
    pynwb.NWBFile
        The in-memory file. Spike times are not read yet: they are streamed from
        ``bundle.spike_batches()`` when the file is written, so write it once.

    Raises
    ------
    SessionError
        If the frames cannot make a valid file (no start time, a dangling link, …).
    """
    nwbfile = add_metadata(bundle)
    for step in STEPS:
        step(nwbfile, bundle)
    add_recordings(nwbfile, bundle, files=files)
    return nwbfile


def check_output_path(path: str | os.PathLike[str], *, overwrite: bool) -> Path:
    """``path`` as a Path; raises :class:`NpcLakeError` if it exists and ``overwrite`` is false."""
    target = Path(path)
    if target.exists() and not overwrite:
        raise NpcLakeError(f"{target} exists; pass --overwrite (overwrite=True) to replace it")
    return target


def write_nwbfile(bundle: SessionBundle, path: str | os.PathLike[str], *, overwrite: bool = False,
                  filtered_lfp: tuple[float, float] | None = None) -> Path:
    """Build the session's NWBFile and write it to ``path`` (HDF5).

    The file is written to a temporary file in the same folder and renamed into place, so a failure
    never leaves a partial file at ``path``.

    Parameters
    ----------
    bundle
        The session's frames and spike source.
    path
        Where to write the file.
    overwrite
        Replace an existing file at ``path``.
    filtered_lfp
        (low, high) Hz: also write a band-passed copy of every LFP recording whose samples are reachable
        (see :func:`npc_lake.export.recordings.add_filtered_lfp`).

    Returns
    -------
    pathlib.Path
        The written file.

    Raises
    ------
    NpcLakeError
        If ``path`` exists and ``overwrite`` is false.
    SessionError
        If the frames cannot make a valid file, or ``path`` holds samples the recordings link to.
    """
    target = check_output_path(path, overwrite=overwrite)
    if os.path.abspath(target) in linked_files(bundle):
        raise SessionError(bundle.session_id, f"{target} holds the raw samples the export links to; "
                           "write the export to another file")
    target.parent.mkdir(parents=True, exist_ok=True)
    # hidden, unique, and still ending in .nwb (pynwb warns about other suffixes)
    tmp = target.with_name(f".{target.stem}.{uuid.uuid4().hex}.tmp.nwb")
    try:
        with ExitStack() as files:
            nwbfile = build_nwbfile(bundle, files=files)
            if filtered_lfp is not None:
                add_filtered_lfp(nwbfile, bundle, band=filtered_lfp, files=files)
            with NWBHDF5IO(str(tmp), mode="w") as io:
                io.write(nwbfile)
        if linked_files(bundle):
            absolute_links(tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


__all__ = [
    "EVENTS_WITHOUT_VALUES", "STEPS", "add_analysis", "add_devices", "add_electrode_groups", "add_electrodes",
    "add_epochs", "add_events", "add_intervals", "add_metadata", "add_recordings", "add_subject", "add_timeseries",
    "add_trials", "add_units", "build_nwbfile", "write_nwbfile",
]
