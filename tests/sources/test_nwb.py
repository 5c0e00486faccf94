"""Tests of the h5py NWB reader on the real files, checked against what pynwb reads."""

from __future__ import annotations

import os
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from npc_lake.errors import SourceError
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
