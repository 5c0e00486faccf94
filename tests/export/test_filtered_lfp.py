"""`export-nwb --filtered-lfp`: a band-passed copy of a reachable LFP series, which re-ingest leaves alone."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from npc_lake.export.session import export_nwb
from npc_lake.lake import Lake
from npc_lake.pipeline import ingest

pynwb = pytest.importorskip("pynwb")

from pynwb.ecephys import LFP, ElectricalSeries  # noqa: E402

RATE, SECONDS = 2500.0, 8.0


def write_lfp_source(path: Path) -> Path:
    """An NWB file whose LFP is an offset plus a 6 Hz and a 700 Hz sine on two channels."""
    nwbfile = pynwb.NWBFile(session_description="lfp", identifier="lfp-1",
                            session_start_time=datetime(2024, 1, 2, tzinfo=UTC), session_id="600003_2024-01-02")
    device = nwbfile.create_device(name="probeA", description="a probe")
    group = nwbfile.create_electrode_group(name="probeA", description="shank", location="VISp", device=device)
    for _ in range(2):
        nwbfile.add_electrode(group=group, location="VISp")
    t = np.arange(int(RATE * SECONDS)) / RATE
    samples = np.stack([50 + 20 * np.sin(2 * np.pi * 6 * t) + 10 * np.sin(2 * np.pi * 700 * t),
                        -30 + 5 * np.sin(2 * np.pi * 6 * t)], axis=1).astype(np.float32)
    lfp = LFP()
    nwbfile.create_processing_module(name="ecephys", description="ephys").add(lfp)
    lfp.add_electrical_series(ElectricalSeries(name="probeA-LFP", data=samples, rate=RATE, conversion=1e-6,
                                               electrodes=nwbfile.create_electrode_table_region([0, 1], "both")))
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pynwb.NWBHDF5IO(str(path), "w") as io:
            io.write(nwbfile)
    return path


def test_filtered_lfp_is_band_passed_and_not_ingested_again(tmp_path: Path) -> None:
    source = write_lfp_source(tmp_path / "source" / "lfp.nwb")
    lake = Lake.open(tmp_path / "lake")
    session_id = ingest(source, lake=lake).session_id
    exported = export_nwb(session_id, tmp_path / "out.nwb", lake=lake, filtered_lfp=(1.0, 300.0))
    with pynwb.NWBHDF5IO(str(exported), "r") as io:
        nwbfile = io.read()
        series = nwbfile.processing["ecephys"]["FilteredEphys"]["probeA-LFP_1-300Hz"]
        data = series.data[:]
        assert data.shape == (int(RATE * SECONDS), 2) and series.rate == RATE and series.conversion == 1e-6
        assert "zero-phase FIR band-pass 1-300 Hz" in series.filtering
        assert list(series.electrodes.data[:]) == [0, 1]
    middle = slice(int(2 * RATE), int(6 * RATE))  # away from the edges the kernel reaches past
    t = np.arange(int(RATE * SECONDS))[middle] / RATE
    assert np.abs(data[middle, 0] - 20 * np.sin(2 * np.pi * 6 * t)).max() < 0.5  # offset and 700 Hz gone
    assert np.abs(data[middle, 1] - 5 * np.sin(2 * np.pi * 6 * t)).max() < 0.2
    again = Lake.open(tmp_path / "again")
    ingest(exported, lake=again)
    recordings = again.scan("recordings").collect()
    assert recordings["recording_name"].to_list() == ["probeA-LFP"]  # the filtered copy is not a recording
    assert recordings.drop("data_uri").equals(lake.scan("recordings").collect().drop("data_uri"))
    assert recordings["data_uri"].to_list() == [str(source)]


def test_filtered_lfp_without_reachable_samples_warns(tmp_path: Path) -> None:
    source = write_lfp_source(tmp_path / "source" / "lfp.nwb")
    lake = Lake.open(tmp_path / "lake")
    session_id = ingest(source, lake=lake).session_id
    source.rename(tmp_path / "moved.nwb")
    with pytest.warns(UserWarning) as caught:
        exported = export_nwb(session_id, tmp_path / "out.nwb", lake=lake, filtered_lfp=(1.0, 300.0))
    messages = [str(w.message) for w in caught]
    assert any("not in a local HDF5 file" in m for m in messages) and any("no filtered copy" in m for m in messages)
    with pynwb.NWBHDF5IO(str(exported), "r") as io:
        processing = io.read().processing
        assert "ecephys" not in processing or "FilteredEphys" not in processing["ecephys"].data_interfaces
