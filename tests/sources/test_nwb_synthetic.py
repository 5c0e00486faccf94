"""Tests of the h5py NWB reader on a synthetic file written with pynwb, and on files it must refuse."""

from __future__ import annotations

import math
import re
import shutil
import warnings
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import polars as pl
import pytest

from npc_lake.errors import InvalidIdError, SourceError
from npc_lake.schema import SessionBundle
from npc_lake.sources.nwb import NwbSource, SourceWarning, read_nwb


def read_quietly(path: Path, **kwargs: Any) -> SessionBundle:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SourceWarning)
        return read_nwb(path, **kwargs)



# ------------------------------------------------------------------------------------------- synthetic


def _write_synthetic(path: Path) -> None:
    pynwb = pytest.importorskip("pynwb")
    from pynwb.behavior import BehavioralEvents, BehavioralTimeSeries, Position
    from pynwb.ecephys import LFP, ElectricalSeries
    from pynwb.epoch import TimeIntervals
    from pynwb.file import Subject
    from pynwb.image import ImageSeries

    nwb = pynwb.NWBFile(session_description="synthetic", identifier="synth-1", session_id="620263_2023-05-06",
                        session_start_time=datetime(2023, 5, 6, 9, 30, tzinfo=timezone(timedelta(hours=-7))),
                        experimenter=["Doe, Jane"], keywords=["a", "b"], institution="Allen", notes="")
    nwb.subject = Subject(subject_id="620263", species="Mus musculus", sex="M", age="P90D", weight="25 g",
                          date_of_birth=datetime(2023, 2, 5, tzinfo=UTC))
    device = nwb.create_device("probeA", description="NP1", manufacturer="imec")
    group = nwb.create_electrode_group("probeA", description="probe A", location="VISp", device=device)
    nwb.add_electrode_column("structure", "structure acronym")
    for i in range(6):
        nwb.add_electrode(group=group, location="VISp5", x=float(i), y=2.0, z=3.0, rel_x=0.0, rel_y=20.0 * i,
                          structure="VISp", id=100 + i)
    region = nwb.create_electrode_table_region([0, 1, 2, 3], "four")
    nwb.add_acquisition(ElectricalSeries(name="probeA-AP", data=np.zeros((10, 4), dtype=np.int16), electrodes=region,
                                         starting_time=0.0, rate=30000.0, conversion=0.195e-6))
    lfp = ElectricalSeries(name="probeA-LFP", data=np.zeros((10, 4)), electrodes=region,
                           timestamps=np.arange(10) / 2500.0)
    nwb.create_processing_module("ecephys", "ecephys").add(LFP(electrical_series=lfp))
    nwb.add_unit_column("unit_id", "lake unit id")
    nwb.add_unit_column("spike_amplitudes", "amplitude of each spike", index=True)
    nwb.add_unit_column("isi_violations_ratio", "isi")
    nwb.add_unit_column("default_qc", "qc")
    rng = np.random.default_rng(0)
    for u in range(5):
        times = np.sort(rng.uniform(0, 100, 10 + u))
        nwb.add_unit(spike_times=times, spike_amplitudes=np.arange(len(times), dtype=np.float32) + u,
                     unit_id=f"620263_2023-05-06_A-{u}", isi_violations_ratio=0.1 * u, default_qc=bool(u % 2),
                     electrodes=[u % 6, (u + 1) % 6], electrode_group=group,
                     obs_intervals=[[0.0, 50.0], [60.0, 100.0]], waveform_mean=np.full((7, 2), float(u)),
                     waveform_sd=np.ones((7, 2)), waveforms=[np.ones((3, 7)), np.zeros((2, 7))], id=10 + u)
    speed = pynwb.TimeSeries(name="running_speed", data=np.arange(20.0), unit="cm/s", starting_time=1.0, rate=10.0,
                             conversion=100.0, description="speed")
    behavior = nwb.create_processing_module("behavior", "behavior")
    behavior.add(BehavioralTimeSeries(time_series=speed))
    position = Position()
    position.create_spatial_series(name="xy", data=np.arange(10.0).reshape(5, 2), timestamps=np.arange(5.0),
                                   reference_frame="arena")
    behavior.add(position)
    licks = pynwb.TimeSeries(name="licks", data=np.ones(4), unit="n.a.", timestamps=[1.0, 2.0, 3.5, 7.0])
    behavior.add(BehavioralEvents(time_series=licks, name="licking"))
    rewards = pynwb.TimeSeries(name="licks", data=np.array([5.0, 6.0]), unit="uL", timestamps=[2.5, 8.0])
    nwb.add_acquisition(BehavioralEvents(time_series=rewards, name="rewarding"))
    nwb.add_acquisition(ImageSeries(name="camera", external_file=["cam.mp4"], format="external",
                                    starting_frame=[0], rate=60.0, num_samples=100))
    nwb.add_trial_column("context_name", "rewarded modality")
    nwb.add_trial_column("custom_score", "a custom column")
    for t in range(4):
        nwb.add_trial(start_time=float(t), stop_time=t + 0.9, context_name="vis" if t < 2 else "aud",
                      custom_score=t * 1.5, tags=["x", "y"][: t % 3], timeseries=[speed])
    nwb.add_epoch_column("stim_name", "program")
    nwb.add_epoch(start_time=0.0, stop_time=50.0, tags=["task"], stim_name="DynamicRouting1")
    nwb.add_epoch(start_time=50.0, stop_time=100.0, tags=["spont"], stim_name="Spontaneous")
    rf = TimeIntervals(name="VisRFMapping", description="rf mapping")
    rf.add_column("is_AM_noise", "am")
    rf.add_column("grating_orientation", "deg")
    for i in range(3):
        rf.add_interval(start_time=10.0 + i, stop_time=10.5 + i, is_AM_noise=bool(i % 2),
                        grating_orientation=45.0 * i)
    nwb.add_time_intervals(rf)
    nwb.add_invalid_time_interval(start_time=20.0, stop_time=21.0)
    if hasattr(nwb, "create_events_table"):
        ttl = nwb.create_events_table(name="ttl", description="ttl pulses")
        ttl.add_event(timestamp=1.25, duration=0.01)
        ttl.add_event(timestamp=2.5, duration=0.01)
    with pynwb.NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("nwb") / "synthetic.nwb"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pynwb deprecates BehavioralEvents, which old files still use
        _write_synthetic(path)
    return path


def test_synthetic_tables(synthetic: Path) -> None:
    pynwb = pytest.importorskip("pynwb")
    with pytest.warns(SourceWarning) as record:
        bundle = read_nwb(synthetic, spike_batch_units=2)
    messages = " ".join(str(w.message) for w in record)
    assert "'timeseries' dropped" in messages and "camera" in messages
    assert bundle.session_id == "620263_2023-05-06"
    units = bundle.tables["units"]
    assert units["unit_id"].to_list() == [f"620263_2023-05-06_A-{u}" for u in range(5)]
    assert units["nwb_unit_id"].to_list() == list(range(10, 15))
    assert units["electrodes"].to_list()[1] == [101, 102]
    assert units["electrode_group_name"].unique().to_list() == ["probeA"]
    assert units["obs_intervals"][0].to_list() == [[0.0, 50.0], [60.0, 100.0]]
    assert np.asarray(units["waveform_mean"][3].to_list()).shape == (7, 2)
    assert units.schema["waveform_mean"] == pl.List(pl.List(pl.Float64))
    assert [len(w) for w in units["waveforms"][0].to_list()] == [3, 2]
    assert units.schema["default_qc"] == pl.Boolean and "spike_times" not in units.columns
    batches = list(bundle.spike_batches())
    assert len(batches) == 3
    spikes = pl.concat(batches)
    assert spikes.height == units["num_spikes"].sum() == 60
    assert spikes.filter(pl.col("unit_id") == "620263_2023-05-06_A-4")["amplitude"].to_list() == \
        [float(i + 4) for i in range(14)]
    trials = bundle.tables["trials"]
    assert trials["rewarded_modality"].to_list() == ["vis", "vis", "aud", "aud"]
    assert trials["tags"].to_list() == [[], ["x"], ["x", "y"], []]
    assert "timeseries" not in trials.columns and trials["custom_score"].to_list() == [0.0, 1.5, 3.0, 4.5]
    intervals = bundle.tables["intervals"]
    assert intervals.group_by("interval_name").len().sort("interval_name").rows() == \
        [("VisRFMapping", 3), ("invalid_times", 1)]
    assert intervals.filter(pl.col("interval_name") == "VisRFMapping")["is_AM_noise"].to_list() == [False, True, False]
    assert bundle.tables["sessions"]["epochs"].to_list() == [["DynamicRouting1", "Spontaneous"]]
    session = bundle.tables["sessions"].row(0, named=True)
    assert session["utc_offset_minutes"] == -420 and session["notes"] is None
    assert session["session_start_time"] == datetime(2023, 5, 6, 16, 30, tzinfo=UTC)
    subject = bundle.tables["subjects"].row(0, named=True)
    assert (subject["subject_id"], subject["weight"], subject["age"]) == ("620263", "25 g", "P90D")
    events = bundle.tables["events"]
    expected = ["licking_licks", "rewarding_licks"] + (["ttl"] if hasattr(pynwb.NWBFile, "create_events_table") else [])
    assert sorted(events["name"].unique()) == expected
    if "ttl" in expected:
        ttl = events.filter(pl.col("name") == "ttl")
        assert ttl["event_time"].to_list() == [1.25, 2.5] and ttl["nwb_path"][0] == "events/ttl"
    assert events.filter(pl.col("name") == "rewarding_licks")["value"].to_list() == [5.0, 6.0]
    timeseries = bundle.tables["timeseries"]
    speed = timeseries.filter(pl.col("name") == "running_speed")
    assert speed["value"].to_list() == [100.0 * i for i in range(20)]
    assert speed["sample_time"].to_list() == [1.0 + i / 10.0 for i in range(20)]
    xy = timeseries.filter(pl.col("name") == "xy")
    assert xy.height == 10 and xy["channel"].to_list() == [0, 1] * 5
    recordings = bundle.tables["recordings"].sort("recording_name")
    assert recordings["kind"].to_list() == ["raw", "lfp"]
    assert recordings["electrode_ids"].to_list()[0] == [100, 101, 102, 103]
    assert math.isnan(recordings["rate"][1]) and recordings["conversion"][0] == pytest.approx(0.195e-6)
    described = bundle.tables["column_descriptions"]
    assert ("trials", "trials", "rewarded_modality", "rewarded modality") in described.drop("session_id").rows()
    assert ("electrodes", "electrodes", "group") not in [r[:3] for r in described.drop("session_id").rows()]


def test_session_id_override_and_source_api(synthetic: Path) -> None:
    assert NwbSource.can_read(synthetic)
    assert NwbSource(synthetic).session_id == "620263_2023-05-06"
    source = NwbSource(synthetic, session_id="custom_1")
    assert source.session_id == "custom_1"
    bundle = read_quietly(synthetic, session_id="custom_1")
    assert bundle.tables["units"]["session_id"].unique().to_list() == ["custom_1"]
    with pytest.raises(InvalidIdError):
        NwbSource(synthetic, session_id="../evil")


def test_ndx_events_02_types(synthetic: Path, tmp_path: Path) -> None:
    path = tmp_path / "ndx_events.nwb"
    shutil.copy(synthetic, path)
    with h5py.File(path, "r+") as file:
        rewards = file.create_group("processing/behavior/rewards")
        rewards.attrs.update(neurodata_type="Events", namespace="ndx-events", description="reward times")
        rewards["timestamps"] = np.array([1.0, 5.0])
        ttl = file.create_group("acquisition/ttl_labeled")
        ttl.attrs.update(neurodata_type="LabeledEvents", namespace="ndx-events", description="ttl",
                         labels=np.array(["a", "b"], dtype=h5py.string_dtype()))
        ttl["timestamps"] = np.array([0.1, 0.2, 0.3])
        ttl["data"] = np.array([0, 1, 0], dtype=np.uint8)
    events = read_quietly(path).tables["events"]
    rewards_rows = events.filter(pl.col("name") == "rewards")
    assert rewards_rows["event_time"].to_list() == [1.0, 5.0]
    assert rewards_rows["value"].null_count() == 2 and rewards_rows["description"][0] == "reward times"
    ttl_rows = events.filter(pl.col("name") == "ttl_labeled")
    assert ttl_rows["value"].to_list() == [0.0, 1.0, 0.0] and ttl_rows["label"].to_list() == ["a", "b", "a"]


def test_corrupt_dataset_raises_source_error(synthetic: Path, tmp_path: Path) -> None:
    path = tmp_path / "corrupt.nwb"
    shutil.copy(synthetic, path)
    with h5py.File(path, "r+") as file:
        units = file["units"]
        times = units["spike_times"][()]
        attrs = dict(units["spike_times"].attrs)
        del units["spike_times"]
        ds = units.create_dataset("spike_times", data=times, chunks=(len(times),), compression="gzip")
        ds.attrs.update(attrs)
        offset = ds.id.get_chunk_info(0).byte_offset
    with path.open("r+b") as fh:
        fh.seek(offset)
        fh.write(b"\xff" * 64)
    bundle = read_quietly(path)
    with pytest.raises(SourceError, match=re.escape(str(path))):
        list(bundle.spike_batches())


# ------------------------------------------------------------------------------------------- refused files


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.nwb"
    with pytest.raises(SourceError, match="does not exist") as info:
        read_nwb(path)
    assert info.value.uri == str(path)
    assert not NwbSource.can_read(path)


def test_random_bytes(tmp_path: Path) -> None:
    path = tmp_path / "random.nwb"
    path.write_bytes(np.random.default_rng(1).bytes(4096))
    with pytest.raises(SourceError, match="not an HDF5 file") as info:
        read_nwb(path)
    assert str(path) in str(info.value)


def test_plain_hdf5_is_not_nwb(tmp_path: Path) -> None:
    path = tmp_path / "plain.h5"
    with h5py.File(path, "w") as file:
        file["data"] = np.arange(10)
    with pytest.raises(SourceError, match="not an NWB file") as info:
        read_nwb(path)
    assert str(path) in str(info.value)
    assert not NwbSource.can_read(path)


@pytest.mark.parametrize("layout", ["dataset", "attribute"])
def test_nwb1_is_refused(tmp_path: Path, layout: str) -> None:
    path = tmp_path / f"nwb1_{layout}.nwb"
    with h5py.File(path, "w") as file:
        if layout == "dataset":
            file["nwb_version"] = "NWB-1.0.6"
            file["identifier"] = "old"
            file.create_group("acquisition/timeseries")
        else:
            file.attrs["nwb_version"] = "1.0.5"
    with pytest.raises(SourceError, match=r"NWB 1\.x is not supported") as info:
        read_nwb(path)
    assert str(path) in str(info.value)


def test_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="directory"):
        read_nwb(tmp_path)
