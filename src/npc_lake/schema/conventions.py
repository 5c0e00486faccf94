"""Conventions shared by the NWB reader and the NWB writer, so that lake → NWB → lake is exact."""

from __future__ import annotations

#: ``comments`` of an event TimeSeries whose events carry no values: its data are placeholder ones and
#: are read back as NULL ``events.value``.
EVENTS_WITHOUT_VALUES = "npc_lake: these events carry no values; data are placeholder ones."
