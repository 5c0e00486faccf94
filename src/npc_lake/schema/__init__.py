"""Every lake table, declared once as data.

``TABLES`` maps table name to :class:`~npc_lake.schema.model.Table`. Delta schemas, casts, the
README's table reference, ``npc-lake describe`` and the descriptions written into NWB files are all
derived from these declarations.
"""

from __future__ import annotations

from npc_lake.errors import UnknownTableError
from npc_lake.schema.analysis import DRIFT_MAPS, RF_MAPS, SPIKE_HISTOGRAMS, UNIT_RESPONSES
from npc_lake.schema.bookkeeping import COLUMN_DESCRIPTIONS, INGEST_LOG, INGEST_RUNS, TAGS
from npc_lake.schema.bundle import SessionBundle, SpikeBatches
from npc_lake.schema.ephys import DEVICES, ELECTRODE_GROUPS, ELECTRODES, RECORDINGS, SPIKE_TIMES, UNITS
from npc_lake.schema.model import Column, Table, format_dtype, parse_dtype
from npc_lake.schema.session import EPOCHS, EVENTS, INTERVALS, SESSIONS, SUBJECTS, TIMESERIES
from npc_lake.schema.stimuli import STIMULI
from npc_lake.schema.trials import TRIALS

#: Bumped whenever a declaration changes in a way that changes stored rows.
SCHEMA_VERSION = 4

TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        SESSIONS, SUBJECTS, DEVICES, ELECTRODE_GROUPS, ELECTRODES, UNITS, SPIKE_TIMES, TRIALS, STIMULI, EPOCHS,
        INTERVALS, EVENTS, TIMESERIES, RECORDINGS, UNIT_RESPONSES, RF_MAPS, SPIKE_HISTOGRAMS, DRIFT_MAPS,
        COLUMN_DESCRIPTIONS, INGEST_LOG, INGEST_RUNS, TAGS,
    )
}

#: Tables whose rows belong to one session, in the order a session is written.
SESSION_TABLES: tuple[str, ...] = tuple(name for name, t in TABLES.items() if t.per_session)


def get_table(name: str) -> Table:
    """The declaration of table ``name``.

    Raises
    ------
    UnknownTableError
        If no such table is declared.
    """
    try:
        return TABLES[name]
    except KeyError:
        raise UnknownTableError(f"unknown table {name!r}; tables: {', '.join(TABLES)}") from None


__all__ = [
    "SCHEMA_VERSION", "SESSION_TABLES", "TABLES", "Column", "SessionBundle", "SpikeBatches", "Table",
    "format_dtype", "get_table", "parse_dtype",
]
