"""Lake rows of one session → NWBFile → NWB file.

pynwb is imported only when a function is first used, so importing this package stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["build_nwbfile", "write_nwbfile"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module("npc_lake.export.nwbfile"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
