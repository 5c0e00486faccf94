"""Conventions shared by the NWB reader and the NWB writer, so that lake → NWB → lake is exact.

Descriptions (the ``column_descriptions`` table)
    The writer gives every NWB table and column the description the source recorded for it, and only
    where none was recorded a fallback: :func:`default_column_description` (the schema's declaration,
    else :data:`NO_DESCRIPTION`) or :func:`default_table_description`. The reader records a description
    only when it differs from that fallback, so the fallback never turns into a recorded row and a
    recorded description is written back verbatim.

Object names with ``:``
    HDF5 allows ``:`` in names and pynwb reads such objects (e.g. the electrode group ``'H-129: 64'`` of
    published DANDI files), but refuses to create them. The writer builds devices and electrode groups
    the way pynwb's reader does (see ``npc_lake.export._convert.construct``), so the name is kept as is;
    ``/`` is never allowed.

Raw data links
    A ``recordings`` row is written as an ElectricalSeries at its ``nwb_path`` whose ``data`` (and
    ``timestamps``, when there is no rate) are HDF5 external links to ``<data_uri>:/<nwb_path>/data``,
    the absolute path of the file that holds the samples. The reader follows such links and reports the
    linked file as ``data_uri``.
"""

from __future__ import annotations

from npc_lake.schema.ephys import UNITS
from npc_lake.schema.model import Table

#: ``comments`` of an event TimeSeries whose events carry no values: its data are placeholder ones and
#: are read back as NULL ``events.value``.
EVENTS_WITHOUT_VALUES = "npc_lake: these events carry no values; data are placeholder ones."

#: Start of the ``comments`` of a series the writer derives from lake rows (a filtered LFP copy): the reader
#: does not ingest it as a recording.
DERIVED_SERIES_MARKER = "npc_lake derived:"

#: ``/scratch`` table in which the writer keeps the ``stimuli`` rows; the reader restores them from it.
STIMULI_SCRATCH = "npc_lake_stimuli"

#: Description written for a column that neither schema/ nor the source described (never recorded back).
NO_DESCRIPTION = "Column carried over from the source; no description was recorded."

#: Table descriptions written when the source recorded none, by lake table (intervals: see the function).
_TABLE_DEFAULTS = {
    "electrodes": "metadata about extracellular electrodes",  # pynwb's own default
    "units": UNITS.description,
    "trials": "Trials of the behavioural task.",
    "epochs": "Stretches of the session, each run by one stimulus or task program.",
}


def default_table_description(table_name: str, source_name: str) -> str:
    """Description the writer gives NWB table ``source_name`` of lake table ``table_name`` by default.

    Parameters
    ----------
    table_name
        Lake table (``electrodes``, ``units``, ``trials``, ``epochs`` or ``intervals``).
    source_name
        Name of the table in the NWB file (for ``intervals``: the interval name).
    """
    if table_name == "intervals":
        if source_name == "invalid_times":
            return "Times during which the data are invalid."
        return f"{source_name} intervals."
    return _TABLE_DEFAULTS.get(table_name, f"{source_name} table.")


def default_column_description(table: Table | None, column: str) -> str:
    """Description the writer gives ``column`` of lake table ``table`` when the source recorded none."""
    if table is not None and table.has_column(column):
        return table.column(column).description
    return NO_DESCRIPTION
