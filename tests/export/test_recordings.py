"""Raw/LFP recordings are exported as links to the samples; names with ':' survive the export."""

from __future__ import annotations

import shutil
import warnings
from datetime import UTC, datetime
from pathlib import Path

import h5py
import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from npc_lake.errors import SessionError
from npc_lake.export.nwbfile import write_nwbfile
from npc_lake.export.session import export_nwb
from npc_lake.lake import Lake
from npc_lake.pipeline import ingest
from npc_lake.schema import SESSION_TABLES, TABLES
from npc_lake.sources.nwb import read_nwb

from conftest import tiny_bundle

pynwb = pytest.importorskip("pynwb")

from pynwb.ecephys import LFP, ElectricalSeries  # noqa: E402

RAW = np.arange(40, dtype=np.int16).reshape(10, 4)
STAMPS = np.array([0.0, 0.1, 0.25, 0.3, 0.45, 0.5, 0.61, 0.7, 0.8, 0.95])  # irregular: no rate


def write_source(path: Path) -> Path:
    """An NWB file with 4 electrodes, a raw series with timestamps and channel gains, and an LFP series."""
    nwbfile = pynwb.NWBFile(session_description="linked samples", identifier="rec-1",
                            session_start_time=datetime(2024, 1, 2, tzinfo=UTC), session_id="600001_2024-01-02")
    device = nwbfile.create_device(name="probeA", description="a probe")
    group = nwbfile.create_electrode_group(name="probeA", description="shank", location="VISp", device=device)
    for _ in range(4):
        nwbfile.add_electrode(group=group, location="VISp")
    region = nwbfile.create_electrode_table_region(region=[0, 1, 2, 3], description="all")
    nwbfile.add_acquisition(ElectricalSeries(
        name="raw", data=RAW, electrodes=region, timestamps=STAMPS, conversion=2.5e-6,
        channel_conversion=[1.0, 1.0, 2.0, 2.0], filtering="300 Hz high-pass", description="AP band"))
    lfp = LFP()
    nwbfile.create_processing_module(name="ecephys", description="ephys").add(lfp)
    lfp.add_electrical_series(ElectricalSeries(name="lfp", data=RAW[:, :2].astype(np.float32), rate=2500.0,
                                               electrodes=nwbfile.create_electrode_table_region([1, 3], "two"),
                                               starting_time=1.5))
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pynwb.NWBHDF5IO(str(path), "w") as io:
            io.write(nwbfile)
    return path


def rows(lake: Lake, table: str) -> pl.DataFrame:
    frame = lake.scan(table).collect()
    frame = frame.drop([c for c in ("source_uri", "source_hash", "nwb_version") if table == "sessions"])
    return frame.sort([k for k in TABLES[table].sort_by if k in frame.columns])


def test_recordings_link_to_their_samples_and_round_trip(tmp_path: Path) -> None:
    source = write_source(tmp_path / "source" / "rec.nwb")
    first, second = Lake.open(tmp_path / "first"), Lake.open(tmp_path / "second")
    session_id = ingest(source, lake=first).session_id
    exported = export_nwb(session_id, tmp_path / "out" / "export.nwb", lake=first)
    with h5py.File(exported, "r") as file:
        for path in ("acquisition/raw/data", "acquisition/raw/timestamps", "acquisition/raw/channel_conversion",
                     "processing/ecephys/LFP/lfp/data"):
            link = file.get(path, getlink=True)
            assert isinstance(link, h5py.ExternalLink), path
            assert (link.filename, link.path) == (str(source), f"/{path}")  # absolute: the file can move
    moved = shutil.move(exported, tmp_path / "elsewhere.nwb")
    with pynwb.NWBHDF5IO(str(moved), "r") as io:
        raw = io.read().acquisition["raw"]
        np.testing.assert_array_equal(raw.data[:], RAW)
        np.testing.assert_array_equal(raw.timestamps[:], STAMPS)
        assert raw.conversion == 2.5e-6 and list(raw.electrodes.data[:]) == [0, 1, 2, 3]
    ingest(moved, lake=second)
    recordings = rows(second, "recordings")
    assert recordings["data_uri"].to_list() == [str(source)] * 2
    assert recordings["kind"].to_list() == ["lfp", "raw"]
    for table in SESSION_TABLES:
        assert_frame_equal(rows(second, table), rows(first, table), check_exact=True)


def test_export_refuses_to_replace_the_file_holding_the_samples(tmp_path: Path) -> None:
    source = write_source(tmp_path / "rec.nwb")
    lake = Lake.open(tmp_path / "lake")
    session_id = ingest(source, lake=lake).session_id
    before = source.read_bytes()
    with pytest.raises(SessionError, match="holds the raw samples"):
        export_nwb(session_id, source, lake=lake, overwrite=True)
    assert source.read_bytes() == before


def test_recordings_outside_hdf5_are_left_out_with_a_warning(tmp_path: Path) -> None:
    bundle = read_nwb(write_source(tmp_path / "rec.nwb"))
    folder = tmp_path / "open_ephys"
    folder.mkdir()
    bundle.tables["recordings"] = bundle.tables["recordings"].with_columns(pl.lit(str(folder)).alias("data_uri"))
    with pytest.warns(UserWarning, match="not in a local HDF5 file"):
        written = write_nwbfile(bundle, tmp_path / "out.nwb")
    assert read_nwb(written).tables.get("recordings") is None


def test_names_with_colons_are_kept(tmp_path: Path) -> None:
    bundle = tiny_bundle()
    name = "H-129: 64"
    for table, column in (("devices", "device_name"), ("electrode_groups", "electrode_group_name"),
                          ("electrode_groups", "device_name"), ("electrodes", "electrode_group_name"),
                          ("units", "electrode_group_name")):
        bundle.tables[table] = bundle.tables[table].with_columns(pl.lit(name).alias(column))
    written = write_nwbfile(bundle, tmp_path / "colons.nwb")
    with pynwb.NWBHDF5IO(str(written), "r") as io:
        nwbfile = io.read()
        assert list(nwbfile.electrode_groups) == [name] and list(nwbfile.devices) == [name]
        assert {g.name for g in nwbfile.units["electrode_group"][:]} == {name}
    again = read_nwb(written)
    assert again.tables["electrode_groups"]["electrode_group_name"].to_list() == [name]
    assert set(again.tables["electrodes"]["electrode_group_name"].to_list()) == {name}


def test_session_nwb_links_the_samples_whatever_the_working_folder(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import npc_lake

    source = write_source(tmp_path / "source" / "rec.nwb")
    handle = Lake.open(tmp_path / "lake")
    session_id = ingest(source, lake=handle).session_id
    monkeypatch.chdir(tmp_path / "source")  # links must not depend on the working folder
    nwb = npc_lake.Session(session_id, lake=handle).nwb
    np.testing.assert_array_equal(nwb.acquisition["raw"].data[:], RAW)


def test_a_series_narrower_than_its_electrodes_is_left_out_with_a_warning(tmp_path: Path) -> None:
    bundle = read_nwb(write_source(tmp_path / "rec.nwb"))
    bundle.tables["recordings"] = bundle.tables["recordings"].with_columns(
        pl.when(pl.col("kind") == "raw").then(pl.lit([0, 1, 2, 3, 0, 1])).otherwise(pl.col("electrode_ids"))
        .alias("electrode_ids"))
    with pytest.warns(UserWarning, match="'raw': its samples have 4 channels for 6 electrodes"):
        written = write_nwbfile(bundle, tmp_path / "out.nwb")
    assert read_nwb(written).tables["recordings"]["kind"].to_list() == ["lfp"]
