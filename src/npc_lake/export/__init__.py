"""Lake rows of one session → NWBFile → NWB file.

pynwb is imported only when a function is first used, so importing this package stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

_HOMES = {"build_nwbfile": "npc_lake.export.nwbfile", "write_nwbfile": "npc_lake.export.nwbfile",
          "export_nwb": "npc_lake.export.session"}
__all__ = ["build_nwbfile", "export_nwb", "write_nwbfile"]


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
