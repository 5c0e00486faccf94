"""Tests of the h5py NWB reader: real files checked against pynwb, a synthetic file, and refused files."""

from __future__ import annotations

import math
import os
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

REALDATA = Path(os.environ.get("NPC_LAKE_REALDATA", Path(__file__).parents[3] / "shared" / "realdata")) / "nwb"
DANDI = ("dandi-cli/sub-anm369963_ses-20170228.nwb", "dandi-cli/sub-anm372793_ses-20170508.nwb")
ZARR = "hdmf-zarr/sub_anm00239123_ses_20170627T093549_ecephys_and_ogen.nwb"
PHY = "pynapple/phy__A8604-211122.nwb"
NEUROCONV = "neuroconv/ecephys_tutorial_v2.5.0.nwb"
REAL_FILES = (*DANDI, ZARR, PHY, NEUROCONV)


def real(name: str) -> Path:
    path = REALDATA / name
    if not path.exists():
        pytest.skip(f"real NWB file {path} is absent (set NPC_LAKE_REALDATA to the shared/realdata folder)")
    return path


def read_quietly(path: Path, **kwargs: Any) -> SessionBundle:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SourceWarning)
        return read_nwb(path, **kwargs)


def both(name: str) -> Any:
    """A pytest param for one real file, with a short id."""
    return pytest.param(name, id=name.split("/")[0] + "-" + Path(name).stem[:12])


def _text(value: Any) -> str | None:
    value = value.decode() if isinstance(value, bytes) else value
    return None if value is None or (isinstance(value, str) and not value.strip()) else str(value)


def _same_floats(ours: list[float | None], theirs: Any) -> bool:
    theirs = np.asarray(theirs, dtype=np.float64)
    ours_arr = np.asarray([np.nan if v is None else v for v in ours], dtype=np.float64)
    same = (ours_arr == theirs) | (np.isnan(ours_arr) & np.isnan(theirs))
    return ours_arr.shape == theirs.shape and bool(np.all(same))


# ------------------------------------------------------------------------------------------- real files


@pytest.mark.realdata
@pytest.mark.parametrize("name", [both(n) for n in REAL_FILES])
def test_real_file_matches_pynwb(name: str) -> None:
    path = real(name)
    bundle = read_quietly(path)
    pynwb = pytest.importorskip("pynwb")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pynwb.NWBHDF5IO(str(path), "r", load_namespaces=True) as io:
            nwb = io.read()
            _check_units(bundle, nwb)
            _check_electrodes(bundle, nwb)
            _check_intervals(bundle, nwb)
            _check_metadata(bundle, nwb, path)


def _check_units(bundle: SessionBundle, nwb: Any) -> None:
    units = bundle.table("units")
    if nwb.units is None:
        assert units is None
        return
    assert units is not None
    theirs = nwb.units
    assert units["nwb_unit_id"].to_list() == list(theirs.id[:])
    counts = [len(theirs["spike_times"][i]) for i in range(len(theirs))]
    assert units["num_spikes"].to_list() == counts
    assert units["unit_id"].to_list() == [f"{bundle.session_id}_{i}" for i in theirs.id[:]]
    spikes = pl.concat(list(bundle.spike_batches()))
    assert spikes.height == sum(counts)
    assert spikes.columns == ["session_id", "unit_id", "spike_time", "amplitude"]
    for i, unit_id in enumerate(units["unit_id"]):
        ours = spikes.filter(pl.col("unit_id") == unit_id)["spike_time"].to_numpy()
        np.testing.assert_array_equal(ours, np.asarray(theirs["spike_times"][i], dtype=np.float64))
    skip = {"spike_times", "electrodes", "electrode_group", "waveform_mean", "waveform_sd", "obs_intervals"}
    for column in theirs.colnames:
        if column in skip:
            continue
        values = [theirs[column][i] for i in range(len(theirs))]
        if isinstance(values[0], (float, np.floating)):
            assert _same_floats(units[column].to_list(), values), column
        elif isinstance(values[0], (int, np.integer)):
            assert units[column].to_list() == [int(v) for v in values], column
        else:
            assert units[column].to_list() == [_text(v) for v in values], column
    if "electrode_group" in theirs.colnames:
        groups = [theirs["electrode_group"][i].name for i in range(len(theirs))]
        assert units["electrode_group_name"].to_list() == groups
    if "electrodes" in theirs.colnames:
        expected = [list(theirs["electrodes"][i].index) for i in range(len(theirs))]
        assert units["electrodes"].to_list() == expected
    for column in ("waveform_mean", "waveform_sd"):
        if column in theirs.colnames:
            for i, ours in enumerate(units[column].to_list()):
                wave = np.asarray(theirs[column][i], dtype=np.float64)
                wave = wave.reshape(len(wave), -1)
                np.testing.assert_array_equal(np.asarray(ours), wave)


def _check_electrodes(bundle: SessionBundle, nwb: Any) -> None:
    electrodes = bundle.table("electrodes")
    if nwb.electrodes is None:
        assert electrodes is None
        return
    assert electrodes is not None
    theirs = nwb.electrodes
    assert electrodes["electrode_id"].to_list() == list(theirs.id[:])
    assert electrodes["electrode_group_name"].to_list() == [_text(v) for v in theirs["group_name"][:]]
    for column in ("x", "y", "z", "imp", "rel_x", "rel_y"):
        if column in theirs.colnames:
            assert _same_floats(electrodes[column].to_list(), theirs[column][:]), column
    assert electrodes["location"].to_list() == [_text(v) for v in theirs["location"][:]]


def _check_intervals(bundle: SessionBundle, nwb: Any) -> None:
    trials = bundle.table("trials")
    if nwb.trials is None:
        assert trials is None
    else:
        assert trials is not None
        assert trials.height == len(nwb.trials)
        assert trials["trial_index"].to_list() == list(nwb.trials.id[:])
        assert _same_floats(trials["start_time"].to_list(), nwb.trials["start_time"][:])
        assert _same_floats(trials["stop_time"].to_list(), nwb.trials["stop_time"][:])
        for column in ("pole_in_time", "photo_stim_power"):
            if column in nwb.trials.colnames:
                assert _same_floats(trials[column].to_list(), nwb.trials[column][:]), column
        if "type" in nwb.trials.colnames:
            assert trials["type"].to_list() == [_text(v) for v in nwb.trials["type"][:]]
    epochs = bundle.table("epochs")
    if nwb.epochs is None:
        assert epochs is None
    else:
        assert epochs is not None
        assert epochs["epoch_index"].to_list() == list(nwb.epochs.id[:])
        assert _same_floats(epochs["start_time"].to_list(), nwb.epochs["start_time"][:])
        assert _same_floats(epochs["stop_time"].to_list(), nwb.epochs["stop_time"][:])
        assert epochs["tags"].to_list() == [list(t) for t in nwb.epochs["tags"][:]]
    others = [n for n in nwb.intervals or {} if n not in ("trials", "epochs")] if nwb.intervals else []
    if not others and nwb.invalid_times is None:
        assert bundle.table("intervals") is None


def _check_metadata(bundle: SessionBundle, nwb: Any, path: Path) -> None:
    sessions = bundle.table("sessions")
    assert sessions is not None and sessions.height == 1
    row = sessions.row(0, named=True)
    assert row["session_start_time"] == nwb.session_start_time.astimezone(UTC)
    offset = nwb.session_start_time.utcoffset()
    assert row["utc_offset_minutes"] == offset.total_seconds() // 60
    assert row["identifier"] == nwb.identifier
    assert row["source_uri"] == str(path)
    assert row["session_description"] == _text(nwb.session_description)
    subject_id = _text(nwb.subject.subject_id) if nwb.subject is not None else None
    assert row["subject_id"] == subject_id
    subjects = bundle.table("subjects")
    if subject_id is None:
        assert subjects is None
    else:
        assert subjects is not None
        assert subjects.row(0, named=True)["species"] == _text(nwb.subject.species)
    devices = bundle.table("devices")
    assert devices is not None and sorted(devices["device_name"]) == sorted(nwb.devices)
    groups = bundle.table("electrode_groups")
    assert groups is not None
    assert sorted(groups["electrode_group_name"]) == sorted(nwb.electrode_groups)
    for group in groups.iter_rows(named=True):
        assert group["device_name"] == nwb.electrode_groups[group["electrode_group_name"]].device.name
    for frame in bundle.tables.values():
        assert frame.columns[0] == "session_id"
        assert frame["session_id"].unique().to_list() == [bundle.session_id]


@pytest.mark.realdata
@pytest.mark.parametrize("name", DANDI)
def test_dandi_lick_events_match_pynwb(name: str) -> None:
    path = real(name)
    bundle = read_quietly(path)
    events = bundle.table("events")
    assert events is not None
    pynwb = pytest.importorskip("pynwb")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pynwb.NWBHDF5IO(str(path), "r", load_namespaces=True) as io:
            licks = io.read().acquisition["lick_times"]
            assert set(events["name"].unique()) == set(licks.time_series)
            for series_name, series in licks.time_series.items():
                ours = events.filter(pl.col("name") == series_name).sort("event_index")
                np.testing.assert_array_equal(ours["event_time"].to_numpy(), series.timestamps[:])
                assert ours["nwb_path"][0] == f"acquisition/lick_times/{series_name}"
    assert bundle.session_id == Path(name).stem.split("_ses-")[0].removeprefix("sub-") + "_" + \
        datetime.strptime(Path(name).stem.split("_ses-")[1], "%Y%m%d").date().isoformat()


@pytest.mark.realdata
def test_neuroconv_recordings_match_pynwb() -> None:
    path = real(NEUROCONV)
    bundle = read_quietly(path)
    recordings = bundle.table("recordings")
    assert recordings is not None
    assert bundle.session_id == "LONELYMTN"
    pynwb = pytest.importorskip("pynwb")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pynwb.NWBHDF5IO(str(path), "r", load_namespaces=True) as io:
            nwb = io.read()
            series = {"acquisition/ElectricalSeries": nwb.acquisition["ElectricalSeries"],
                      "processing/ecephys/LFP/ElectricalSeries":
                          nwb.processing["ecephys"]["LFP"].electrical_series["ElectricalSeries"]}
            assert sorted(recordings["nwb_path"]) == sorted(series)
            assert recordings["recording_name"].n_unique() == recordings.height
            for row in recordings.iter_rows(named=True):
                es = series[row["nwb_path"]]
                assert row["rate"] == es.rate
                assert row["starting_time"] == es.starting_time
                assert row["n_samples"] == es.data.shape[0]
                assert row["n_channels"] == es.data.shape[1]
                assert row["electrode_ids"] == list(es.electrodes.table.id[:][es.electrodes.data[:]])
                assert row["data_uri"] == str(path)
                assert row["kind"] == ("lfp" if "LFP" in row["nwb_path"] else "raw")


@pytest.mark.realdata
def test_spike_batches_stream_in_unit_slices() -> None:
    path = real(ZARR)
    whole = pl.concat(list(read_quietly(path).spike_batches()))
    bundle = read_quietly(path, spike_batch_units=1)
    batches = list(bundle.spike_batches())
    assert [b["unit_id"].n_unique() for b in batches] == [1] * len(batches)
    assert pl.concat(batches).equals(whole)
    assert pl.concat(list(bundle.spike_batches())).equals(whole)  # re-callable
    assert whole.schema["amplitude"] == pl.Float32 and whole["amplitude"].null_count() == whole.height


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
    assert intervals.filter(pl.col("interval_name") == "VisRFMapping")["is_am_noise"].to_list() == [False, True, False]
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


@pytest.mark.realdata
def test_truncated_file(tmp_path: Path) -> None:
    source = real(ZARR)
    data = source.read_bytes()
    path = tmp_path / "truncated.nwb"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(SourceError, match="corrupt or truncated") as info:
        read_nwb(path)
    assert str(path) in str(info.value)
    assert not NwbSource.can_read(path)


def test_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="directory"):
        read_nwb(tmp_path)
