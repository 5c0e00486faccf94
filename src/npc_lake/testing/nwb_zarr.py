"""NWB-Zarr copies of NWB HDF5 files, written by hdmf-zarr (the library the Allen Institute's data
platform uses to publish sessions as ``.nwb.zarr``); needs the ``test`` extra."""

from __future__ import annotations

import os
from pathlib import Path


def write_nwb_zarr(nwb_path: str | os.PathLike[str], out: str | os.PathLike[str]) -> Path:
    """Export the NWB HDF5 file ``nwb_path`` to the NWB-Zarr store ``out`` (a ``.nwb.zarr`` folder).

    Every dataset is copied (no links back to the HDF5 file); object references are written the way
    hdmf-zarr writes them by default (pickled), as in published stores.

    Returns
    -------
    pathlib.Path
        The store.
    """
    try:
        from hdmf_zarr.nwb import NWBZarrIO
        from pynwb import NWBHDF5IO
    except ImportError as exc:  # pragma: no cover - the test extra installs it
        raise ImportError("writing NWB-Zarr needs hdmf-zarr: pip install 'npc-lake[test]'") from exc
    target = Path(out)
    with NWBHDF5IO(os.fspath(nwb_path), "r") as source:
        nwbfile = source.read()
        with NWBZarrIO(os.fspath(target), mode="w") as sink:
            sink.export(src_io=source, nwbfile=nwbfile, write_args={"link_data": False})
    return target
