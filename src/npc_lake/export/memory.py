"""A session's NWB file held in memory: written by the export code into an HDF5 image, then read back."""

from __future__ import annotations

import uuid
import warnings
from dataclasses import dataclass
from typing import Any

import h5py
from pynwb import NWBHDF5IO, NWBFile

from npc_lake.export.nwbfile import build_nwbfile
from npc_lake.schema import SessionBundle


@dataclass
class InMemoryNwb:
    """An NWBFile read from an in-memory HDF5 image; keep this object alive while using ``nwbfile``."""

    nwbfile: NWBFile
    io: NWBHDF5IO
    file: Any

    def close(self) -> None:
        """Release the image."""
        self.io.close()
        self.file.close()


def open_in_memory(bundle: SessionBundle) -> InMemoryNwb:
    """Build the session's NWBFile, write it to an HDF5 image in memory, and read it back.

    The result is what ``export-nwb`` would write, readable like a file on disk (spike times included),
    without touching the disk.
    """
    image = h5py.File(f"npc_lake-{uuid.uuid4().hex}.nwb", "w", driver="core", backing_store=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        NWBHDF5IO(file=image, mode="w").write(build_nwbfile(bundle))
        io = NWBHDF5IO(file=image, mode="r")
        return InMemoryNwb(nwbfile=io.read(), io=io, file=image)
