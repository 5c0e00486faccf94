"""Synthetic Dynamic Routing sessions for tests, the demo and benchmarks."""

from npc_lake.testing.nwb import write_synthetic_nwb
from npc_lake.testing.synth import synth_session, synth_sessions
from npc_lake.testing.synth_raw import write_raw_session, write_raw_sessions

__all__ = ["synth_session", "synth_sessions", "write_raw_session", "write_raw_sessions", "write_synthetic_nwb"]
