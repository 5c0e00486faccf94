"""A session's NWB file held in memory: written by the export code into an HDF5 image, then read back."""

from __future__ import annotations

import os
import uuid
import warnings
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import h5py
from pynwb import NWBHDF5IO, NWBFile

from npc_lake.export.nwbfile import build_nwbfile
from npc_lake.export.recordings import make_links_absolute
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


def _open_image_readonly(data: bytes, *, name: str) -> h5py.File:
    """An HDF5 file image opened read-only in memory (external links still resolve, unlike a BytesIO file)."""
    access = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
    access.set_fapl_core(backing_store=False)
    access.set_file_image(data)
    return h5py.File(h5py.h5f.open(name.encode(), h5py.h5f.ACC_RDONLY, fapl=access))


def open_in_memory(bundle: SessionBundle) -> InMemoryNwb:
    """Build the session's NWBFile, write it to an HDF5 image in memory, and read it back.

    The result is what ``export-nwb`` would write, readable like a file on disk (spike times included),
    without touching the disk.
    """
    folder = os.getcwd()
    name = os.path.join(folder, f"npc_lake-{uuid.uuid4().hex}.nwb")  # never touches the disk
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        with h5py.File(name, "w", driver="core", backing_store=False) as image:
            with ExitStack() as files:  # the files holding linked samples close once the image is written
                NWBHDF5IO(file=image, mode="w").write(build_nwbfile(bundle, files=files))
            # links to raw samples absolute, and the image reopened read-only, so that following a link
            # opens the sample file read-only too (a writable parent would lock it against other readers)
            make_links_absolute(image, folder=folder)
            image.flush()
            data = image.id.get_file_image()
        readonly = _open_image_readonly(data, name=name)
        reader = NWBHDF5IO(file=readonly, mode="r")
        return InMemoryNwb(nwbfile=reader.read(), io=reader, file=readonly)
