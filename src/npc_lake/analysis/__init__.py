"""Cross-session analyses computed from lake rows (Polars in, Polars out)."""

from npc_lake.analysis.alignment import psth

__all__ = ["psth"]
