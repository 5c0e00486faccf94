"""The installed version of npc_lake."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("npc-lake")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0+unknown"
