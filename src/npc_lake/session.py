"""One session of the lake as an object, in the manner of npc_sessions, served from lake rows only.

Nothing is read until a property is asked for; each table is then read once and kept.

>>> s = Session("620263_2022-07-26")                    # doctest: +SKIP
>>> s.trials.filter(pl.col("is_hit")).height            # doctest: +SKIP
>>> {s.id: s.trials for s in get_sessions(is_ephys=True)}  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from functools import cached_property
from typing import TYPE_CHECKING, Any

import polars as pl

from npc_lake.errors import LakeError
from npc_lake.lake import Lake
from npc_lake.lake.read import read_session, session_table_versions
from npc_lake.lake.snapshots import AsOf, resolve_log_version
from npc_lake.schema import SessionBundle
from npc_lake.schema.ids import validate_id

if TYPE_CHECKING:
    from pynwb import NWBFile


class Session:
    """A session in the lake.

    Parameters
    ----------
    session_id
        A session id of the lake, e.g. ``620263_2022-07-26``.
    lake
        The lake (handle, URI, path, or ``None`` for ``$NPC_LAKE_URI`` / ``./lake``).
    as_of
        Ingest-log version, tag or time (see :mod:`npc_lake.lake.snapshots`) to see the session as of;
        the latest state if ``None``.

    Raises
    ------
    LakeError
        The session is not in the lake (checked when the object is made).
    """

    def __init__(self, session_id: str, *, lake: Lake | str | os.PathLike[str] | None = None,
                 as_of: AsOf | None = None) -> None:
        self.id = validate_id(session_id)
        self._lake = Lake.open(os.fspath(lake) if isinstance(lake, os.PathLike) else lake)
        self.as_of = None if as_of is None else resolve_log_version(self._lake, as_of)
        as_of = self.as_of
        self._nwb_handle: Any = None
        self._versions = ({} if as_of is None
                          else session_table_versions(self.id, lake=self._lake, as_of=as_of))
        if self._table("sessions").height == 0:
            raise LakeError(f"session {self.id!r} is not in the lake at {self._lake.uri}")

    def __repr__(self) -> str:
        at = f", as_of={self.as_of}" if self.as_of is not None else ""
        return f"Session({self.id!r}, lake={self._lake.uri!r}{at})"

    def _scan(self, table: str) -> pl.LazyFrame:
        return self._lake.scan(table, version=self._versions.get(table)).filter(pl.col("session_id") == self.id)

    def _table(self, table: str) -> pl.DataFrame:
        return self._scan(table).collect()

    @cached_property
    def metadata(self) -> dict[str, Any]:
        """The session's row of ``sessions`` as a dict (start time, description, lab, keywords, source…)."""
        return self._table("sessions").row(0, named=True)

    @cached_property
    def subject(self) -> pl.DataFrame:
        """The subject's row for this session (``subjects``)."""
        return self._table("subjects")

    @cached_property
    def trials(self) -> pl.DataFrame:
        """Task trials, in trial order."""
        return self._table("trials").sort("trial_index")

    @cached_property
    def epochs(self) -> pl.DataFrame:
        """Epochs, in order."""
        return self._table("epochs").sort("epoch_index")

    @cached_property
    def units(self) -> pl.DataFrame:
        """Units with their metrics and locations, in NWB order."""
        return self._table("units").sort("nwb_unit_id", "unit_id", nulls_last=True)

    @cached_property
    def electrodes(self) -> pl.DataFrame:
        """Recording channels."""
        return self._table("electrodes").sort("electrode_id")

    @cached_property
    def events(self) -> pl.DataFrame:
        """Point events (licks, rewards, lick-sensor edges, camera frames) in long format."""
        return self._table("events").sort("name", "event_index")

    @cached_property
    def intervals(self) -> dict[str, pl.DataFrame]:
        """Every other intervals table by name (VisRFMapping, performance, …), with only its own columns."""
        frame = self._table("intervals").sort("interval_name", "interval_index")
        tables = {}
        for (name,), group in frame.group_by("interval_name", maintain_order=True):
            keep = [c for c in group.columns if group[c].null_count() < group.height]
            tables[str(name)] = group.select(keep)
        return tables

    def spike_times(self, unit_ids: list[str] | None = None) -> pl.DataFrame:
        """Spike times (``unit_id``, ``spike_time``, ``amplitude``) of all units or of ``unit_ids``."""
        scan = self._scan("spike_times")
        if unit_ids is not None:
            scan = scan.filter(pl.col("unit_id").is_in(list(unit_ids)))
        return scan.sort("unit_id", "spike_time").collect()

    @cached_property
    def is_ephys(self) -> bool:
        """The session has sorted units."""
        return self._scan("units").select(pl.len()).collect().item() > 0

    @cached_property
    def is_task(self) -> bool:
        """The session has task trials."""
        return self._scan("trials").select(pl.len()).collect().item() > 0

    @cached_property
    def is_sync(self) -> bool:
        """The session has events on the sync clock (licks, frames, …)."""
        return self._scan("events").select(pl.len()).collect().item() > 0

    def bundle(self) -> SessionBundle:
        """All of the session's rows as a :class:`SessionBundle` (spikes streamed on demand)."""
        return read_session(self.id, lake=self._lake, as_of=self.as_of)

    @cached_property
    def nwb(self) -> NWBFile:
        """The session as an in-memory pynwb NWBFile, built by the same code as ``npc-lake export-nwb``.

        The file is written into an in-memory HDF5 image (nothing touches the disk) and read back, so every
        dataset, spike times included, reads exactly as it would from the exported file.
        """
        from npc_lake.export.memory import open_in_memory

        handle = open_in_memory(self.bundle())
        self._nwb_handle = handle  # keeps the in-memory file open as long as the Session lives
        return handle.nwbfile


def get_sessions(lake: Lake | str | os.PathLike[str] | None = None, *, is_ephys: bool | None = None,
                 is_task: bool | None = None, as_of: AsOf | None = None) -> Iterator[Session]:
    """Iterate the lake's sessions in id order, optionally only those with (or without) units or trials.

    Parameters
    ----------
    lake
        The lake (handle, URI, path, or ``None`` for the default).
    is_ephys, is_task
        Keep only sessions that have (``True``) or lack (``False``) units / trials.
    as_of
        Ingest-log version, tag or time (see :mod:`npc_lake.lake.snapshots`): the sessions as they were then.
    """
    handle = Lake.open(os.fspath(lake) if isinstance(lake, os.PathLike) else lake)
    as_of = None if as_of is None else resolve_log_version(handle, as_of)
    if as_of is None:
        ids = set(handle.scan("sessions").select("session_id").collect()["session_id"].to_list())
    else:
        ids = set(handle.scan("ingest_log", version=as_of).select("session_id").collect()["session_id"].to_list())
    if as_of is None:  # one scan per flag over the latest tables
        for flag, table in ((is_ephys, "units"), (is_task, "trials")):
            if flag is not None:
                having = set(handle.scan(table).select("session_id").unique().collect()["session_id"].to_list())
                ids = ids & having if flag else ids - having
    for session_id in sorted(ids):
        session = Session(session_id, lake=handle, as_of=as_of)
        if as_of is not None and ((is_ephys is not None and session.is_ephys != is_ephys)
                                  or (is_task is not None and session.is_task != is_task)):
            continue
        yield session
