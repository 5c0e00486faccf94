"""The hand-over format between stages: one session's frames, keyed by table name."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import polars as pl

SpikeBatches = Callable[[], Iterator[pl.DataFrame]]


def no_spikes() -> Iterator[pl.DataFrame]:
    """A spike source with no spikes."""
    return iter(())


@dataclass
class SessionBundle:
    """Everything a source read for one session, ready for normalize/ and lake/.

    Parameters
    ----------
    session_id
        Validated lake session id.
    source_uri
        Where the session was read from.
    tables
        Frames keyed by table name (every per-session table except ``spike_times``). Missing tables
        mean "no rows".
    spike_batches
        A function returning a fresh iterator of ``spike_times`` frames (columns ``unit_id``,
        ``spike_time`` and optionally ``amplitude``). Every unit's spikes come in one batch. It is
        called more than once (to check and hash, then to write), so the session's spikes never have
        to sit in memory together.
    source_hash
        Digest of the source bytes, when known.
    skipped
        What the source holds but the read left out, one ``"<what>: <reason>"`` entry each (recorded in
        the ingest log).
    """

    session_id: str
    source_uri: str
    tables: dict[str, pl.DataFrame] = field(default_factory=dict)
    spike_batches: SpikeBatches = no_spikes
    source_hash: str | None = None
    skipped: list[str] = field(default_factory=list)

    def table(self, name: str) -> pl.DataFrame | None:
        """The frame of table ``name``, or ``None`` when the source has no such rows."""
        return self.tables.get(name)
