"""Make a source's frames conform to schema/ and check the invariants of a session.

``normalize_session`` is the gate between sources and the lake: whatever it returns may be written,
whatever it refuses never touches the lake.
"""

from npc_lake.normalize.conform import conform, empty_frame
from npc_lake.normalize.session import NormalizedSession, normalize_session

__all__ = ["NormalizedSession", "conform", "empty_frame", "normalize_session"]
