"""NWB export: a hand-built session written to disk, read back with pynwb, checked by nwbinspector."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from npc_lake.errors import NpcLakeError, SessionError
from npc_lake.schema import SessionBundle, get_table

pynwb = pytest.importorskip("pynwb")
nwbinspector = pytest.importorskip("nwbinspector")

from npc_lake.export.behavior import EVENTS_WITHOUT_VALUES  # noqa: E402
from npc_lake.export.nwbfile import build_nwbfile, write_nwbfile  # noqa: E402

SESSION = "626791_2022-08-17"
START = datetime(2022, 8, 17, 20, 5, 7, 123456, tzinfo=UTC)  # 13:05:07 local time, UTC-7
DESCRIPTION = "Dynamic Routing — contexts vis/aud, µ-test ✓ 日本"


def _frame(table: str, rows: dict[str, list[object]]) -> pl.DataFrame:
    """A frame with declared dtypes for declared columns and inferred dtypes for extras."""
    declared = get_table(table)
    columns = {}
    for name, values in rows.items():
        dtype = declared.column(name).polars_dtype if declared.has_column(name) else None
        columns[name] = pl.Series(name, values, dtype=dtype, strict=False)
    return pl.DataFrame(columns)


def _spike_trains() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    return {
        f"{SESSION}_A-0": np.sort(rng.uniform(0, 100, 50)),
        f"{SESSION}_A-1": np.empty(0),
        f"{SESSION}_B-0": np.sort(rng.uniform(0, 100, 30)) + 1e-12,  # digits beyond float32
    }


def _waveform(seed: int) -> list[list[float]]:
    return np.random.default_rng(seed).normal(size=(5, 4)).tolist()  # 5 samples × 4 channels


def make_bundle() -> SessionBundle:
    """2 probes × 4 electrodes, 3 units (one silent), DR trials, epochs, intervals, events, running speed."""
    trains = _spike_trains()
    unit_ids = list(trains)
    tables = {
        "sessions": _frame("sessions", {
            "session_id": [SESSION], "subject_id": ["626791"], "session_start_time": [START],
            "utc_offset_minutes": [-420], "timestamps_reference_time": [START],
            "identifier": ["f1d2c3b4-0000-4000-8000-000000000001"], "session_description": [DESCRIPTION],
            "experiment_description": ["context switching go/no-go"], "institution": ["Allen Institute"],
            "lab": ["Mindscope"], "experimenter": [["Lovelace, Ada", "Kierkegaard, Søren"]],
            "keywords": [["dynamic routing", "neuropixels"]], "related_publications": [["doi:10.1000/xyz"]],
            "notes": ["notes"], "protocol": ["2104"], "pharmacology": [None], "surgery": ["headpost"],
            "virus": [None], "stimulus_notes": ["gratings and tones"], "data_collection": ["NP2 rig"],
            "rig": ["NP2"],
        }),
        "subjects": _frame("subjects", {
            "session_id": [SESSION], "subject_id": ["626791"], "species": ["Mus musculus"], "sex": ["M"],
            "genotype": ["wt/wt"], "strain": ["C57BL/6J"],
            "date_of_birth": [datetime(2022, 3, 22, tzinfo=UTC)], "age": ["P148D"], "weight": ["25 g"],
            "description": ["a mouse"],
        }),
        "devices": _frame("devices", {
            "session_id": [SESSION] * 2, "device_name": ["probeA", "probeB"],
            "description": ["Neuropixels probe A", "Neuropixels probe B"], "manufacturer": ["imec", "imec"],
            "serial_number": ["18005102491", "18005106331"], "model_name": ["Neuropixels 1.0"] * 2,
        }),
        "electrode_groups": _frame("electrode_groups", {
            "session_id": [SESSION] * 2, "electrode_group_name": ["probeA", "probeB"],
            "description": ["probe A insertion", "probe B insertion"], "location": ["VISp", "MOs"],
            "device_name": ["probeA", "probeB"], "position_x": [100.0, None], "position_y": [200.0, None],
            "position_z": [300.0, None],
        }),
        "electrodes": _frame("electrodes", {
            "session_id": [SESSION] * 8, "electrode_id": list(range(8)),
            "electrode_group_name": ["probeA"] * 4 + ["probeB"] * 4, "channel": [0, 1, 2, 3] * 2,
            "x": [8000.0 + i for i in range(8)], "y": [3000.0] * 8, "z": [7000.0] * 8,
            "location": ["VISp5", "VISp5", "VISp4", None, "MOs5", "MOs5", "MOs2/3", "MOs1"],
            "structure": ["VISp"] * 4 + ["MOs"] * 4, "rel_x": [43.0, 11.0, 59.0, 27.0] * 2,
            "rel_y": [20.0, 20.0, 40.0, 40.0] * 2, "imp": [1.5e5, float("nan"), 1.4e5, 1.6e5] * 2,
            "filtering": ["300 Hz high-pass"] * 8, "reference": ["tip"] * 8, "custom_gain": [500] * 8,
        }),
        "units": _frame("units", {
            "session_id": [SESSION] * 3, "unit_id": unit_ids, "nwb_unit_id": [10, 11, 12], "ks_unit_id": [0, 1, 0],
            "electrode_group_name": ["probeA", "probeA", "probeB"], "device_name": ["probeA", "probeA", "probeB"],
            "peak_channel": [1, 2, 0], "peak_electrode": [1, 2, 4],
            "electrodes": [[0, 1, 2], [1, 2, 3], [4, 5]], "location": ["VISp5", "VISp4", "MOs5"],
            "structure": ["VISp", "VISp", "MOs"], "x": [8001.0, 8002.0, 8004.0], "y": [3000.0] * 3,
            "z": [7000.0] * 3, "amplitude_cutoff": [0.01, float("nan"), 0.2], "isi_violations_ratio": [0.1, 0.0, 2.0],
            "presence_ratio": [0.99, 0.0, 0.8], "firing_rate": [0.5, 0.0, 0.3], "snr": [None, 1.0, 3.0],
            "decoder_label": ["sua", "noise", "mua"], "default_qc": [True, False, False],
            "num_spikes": [len(t) for t in trains.values()],
            "waveform_mean": [_waveform(1), _waveform(2), _waveform(3)],
            "waveform_sd": [_waveform(4), None, _waveform(5)],
            "obs_intervals": [[[0.0, 100.0]], [[0.0, 50.0], [60.0, 100.0]], [[0.0, 100.0]]],
            "my_metric": [1.0, 2.0, 3.0],
        }),
        "trials": _frame("trials", {
            "session_id": [SESSION] * 5, "trial_index": list(range(5)),
            "start_time": [10.0, 15.0, 20.0, 25.0, 30.0], "stop_time": [14.5, 19.5, 24.5, 29.5, 34.5],
            "stim_start_time": [11.0, 16.0, None, 26.0, 31.0], "stim_name": ["vis1", "sound1", "catch", "vis2", "vis1"],
            "block_index": [0] * 5, "rewarded_modality": ["vis"] * 5,
            "response_time": [11.4, None, None, 26.5, 31.3], "is_response": [True, False, False, True, True],
            "is_hit": [True, False, False, False, True], "is_catch": [False, False, True, False, False],
            "repeat_index": [0, 0, None, 0, 1], "opto_label": [None] * 5,
            "opto_stim_name": [None, "ctrl", None, None, None],
        }),
        "epochs": _frame("epochs", {
            "session_id": [SESSION] * 2, "epoch_index": [0, 1], "start_time": [0.0, 40.0],
            "stop_time": [40.0, 100.0], "script_name": ["DynamicRouting1", "RFMapping"],
            "tags": [["task", "rewards"], ["rf_mapping"]], "interval_names": [["trials"], ["VisRFMapping"]],
        }),
        "intervals": _frame("intervals", {
            "session_id": [SESSION] * 4, "interval_name": ["VisRFMapping"] * 3 + ["invalid_times"],
            "interval_index": [0, 1, 2, 0], "start_time": [40.0, 41.0, 42.0, 95.0],
            "stop_time": [40.5, 41.5, 42.5, 96.0], "stim_start_time": [40.1, 41.1, 42.1, None],
            "grating_orientation": [0.0, 45.0, None, None], "is_small_field_grating": [True, True, False, None],
            "trial_index": [0, 1, 2, None], "reason": [None, None, None, "probe B saturated"],
            "tags": [None, None, None, ["invalid"]],
        }),
        "events": _frame("events", {
            "session_id": [SESSION] * 7, "name": ["licks"] * 4 + ["rewards"] * 3,
            "event_index": [0, 1, 2, 3, 0, 1, 2], "event_time": [11.4, 11.5, 26.5, 31.3, 11.45, 31.35, 50.0],
            "value": [None] * 4 + [0.005, 0.005, 0.004],
            "nwb_path": ["processing/behavior/licks"] * 4 + ["processing/behavior/BehavioralEvents/rewards"] * 3,
            "description": ["lick sensor rising edges"] * 4 + ["water rewards (ml)"] * 3,
        }),
        "timeseries": pl.concat([
            _frame("timeseries", {
                "session_id": [SESSION] * 100, "name": ["running_speed"] * 100, "sample_index": list(range(100)),
                "channel": [0] * 100, "sample_time": [i / 60 for i in range(100)],
                "value": [float(i % 7) for i in range(100)], "unit": ["cm/s"] * 100,
                "nwb_path": ["processing/behavior/running_speed"] * 100,
                "description": ["linear speed of the running wheel"] * 100,
            }),
            _frame("timeseries", {
                "session_id": [SESSION] * 6, "name": ["eye_position"] * 6, "sample_index": [0, 0, 1, 1, 2, 2],
                "channel": [0, 1] * 3, "sample_time": [0.0, 0.0, 0.5, 0.5, 1.0, 1.0],
                "value": [1.0, -1.0, 2.0, None, 3.0, -3.0], "unit": [None] * 6, "nwb_path": [None] * 6,
                "description": ["pupil centre"] * 6,
            }),
        ]),
        "column_descriptions": _frame("column_descriptions", {
            "session_id": [SESSION] * 3, "table_name": ["units", "electrodes", "trials"],
            "source_name": ["units", "electrodes", "trials"], "column_name": ["my_metric", "custom_gain", ""],
            "description": ["A made-up metric.", "Amplifier gain.", "Trials of the DR task."],
        }),
    }

    def batches() -> Iterator[pl.DataFrame]:
        for probe in ("A", "B"):
            ids = [u for u in unit_ids if f"_{probe}-" in u]
            times = [trains[u] for u in ids]
            yield pl.DataFrame({
                "session_id": SESSION,
                "unit_id": pl.Series([u for u, t in zip(ids, times, strict=True) for _ in t], dtype=pl.String),
                "spike_time": np.concatenate(times),
                "amplitude": np.concatenate(times).astype(np.float32) * 2,
            })

    return SessionBundle(session_id=SESSION, source_uri="memory://test", tables=tables, spike_batches=batches)


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_nwbfile(make_bundle(), tmp_path_factory.mktemp("nwb") / f"{SESSION}.nwb")


@pytest.fixture(scope="module")
def nwb(written: Path) -> Iterator[object]:
    with pynwb.NWBHDF5IO(str(written), mode="r", load_namespaces=True) as io:
        yield io.read()


def test_metadata(nwb) -> None:
    start = nwb.session_start_time
    assert start == START
    assert start.utcoffset() == timedelta(minutes=-420)
    assert start.hour == 13
    assert nwb.timestamps_reference_time == START
    assert nwb.session_description == DESCRIPTION
    assert nwb.identifier == "f1d2c3b4-0000-4000-8000-000000000001"
    assert nwb.session_id == SESSION
    assert nwb.institution == "Allen Institute"
    assert list(nwb.experimenter) == ["Lovelace, Ada", "Kierkegaard, Søren"]
    assert list(nwb.keywords) == ["dynamic routing", "neuropixels"]
    assert list(nwb.related_publications) == ["doi:10.1000/xyz"]
    assert nwb.protocol == "2104"
    assert nwb.pharmacology is None
    assert nwb.stimulus_notes == "gratings and tones"


def test_subject(nwb) -> None:
    subject = nwb.subject
    assert (subject.subject_id, subject.species, subject.sex, subject.age) == ("626791", "Mus musculus", "M", "P148D")
    assert subject.strain == "C57BL/6J"
    assert subject.weight == "25 g"
    assert subject.date_of_birth == datetime(2022, 3, 22, tzinfo=UTC)


def test_devices_and_groups(nwb) -> None:
    assert set(nwb.devices) == {"probeA", "probeB"}
    probe = nwb.devices["probeA"]
    assert probe.serial_number == "18005102491"
    assert probe.model.manufacturer == "imec"
    assert probe.model is nwb.devices["probeB"].model
    group = nwb.electrode_groups["probeA"]
    assert group.device is probe
    assert group.location == "VISp"
    assert tuple(group.position[()]) == (100.0, 200.0, 300.0)
    assert nwb.electrode_groups["probeB"].position is None


def test_electrodes(nwb) -> None:
    df = nwb.electrodes.to_dataframe()
    assert df.index.tolist() == list(range(8))
    assert df["group_name"].tolist() == ["probeA"] * 4 + ["probeB"] * 4
    assert [g.name for g in df["group"]] == df["group_name"].tolist()
    assert df["location"].tolist() == ["VISp5", "VISp5", "VISp4", "", "MOs5", "MOs5", "MOs2/3", "MOs1"]
    assert df["channel"].tolist() == [0, 1, 2, 3] * 2
    assert df["rel_x"].tolist() == [43.0, 11.0, 59.0, 27.0] * 2
    assert np.isnan(df["imp"].iloc[1]) and df["imp"].iloc[0] == 1.5e5
    assert nwb.electrodes["custom_gain"].description == "Amplifier gain."
    assert nwb.electrodes["rel_y"].description == get_table("electrodes").column("rel_y").description


def test_units(nwb) -> None:
    units = nwb.units
    trains = _spike_trains()
    assert units.id[:].tolist() == [10, 11, 12]
    assert list(units["unit_id"][:]) == list(trains)
    for i, expected in enumerate(trains.values()):
        got = units.get_unit_spike_times(i)
        assert got.dtype == np.float64
        assert np.array_equal(got, expected)  # bit-exact
        assert np.array_equal(units["spike_amplitudes"][i], expected.astype(np.float32) * 2)
    assert "num_spikes" not in units.colnames  # the spike index says it; the reader derives it from there
    assert np.diff(units["spike_times_index"].data[:], prepend=0).tolist() == [50, 0, 30]
    assert list(units["decoder_label"][:]) == ["sua", "noise", "mua"]
    assert units["default_qc"][:].tolist() == [True, False, False]
    cutoff = units["amplitude_cutoff"][:]
    assert cutoff[0] == 0.01 and np.isnan(cutoff[1])
    assert np.isnan(units["snr"][0])
    assert units["my_metric"].description == "A made-up metric."
    assert units["firing_rate"].description == get_table("units").column("firing_rate").description
    assert [g.name for g in units["electrode_group"][:]] == ["probeA", "probeA", "probeB"]
    assert units["electrodes"][2].index.tolist() == [4, 5]
    assert units["electrodes"][0]["location"].tolist() == ["VISp5", "VISp5", "VISp4"]
    mean = units["waveform_mean"][:]
    assert mean.shape == (3, 5, 4)
    assert np.array_equal(mean[1], np.array(_waveform(2)))
    sd = units["waveform_sd"][:]
    assert np.isnan(sd[1]).all() and np.array_equal(sd[2], np.array(_waveform(5)))
    assert units["obs_intervals"][1].tolist() == [[0.0, 50.0], [60.0, 100.0]]
    assert "nwb_unit_id" not in units.colnames


def test_trials_epochs_intervals(nwb) -> None:
    trials = nwb.trials.to_dataframe()
    assert nwb.trials.description == "Trials of the DR task."
    assert trials.index.tolist() == list(range(5))
    assert trials["stim_name"].tolist() == ["vis1", "sound1", "catch", "vis2", "vis1"]
    assert np.isnan(trials["stim_start_time"].iloc[2])
    assert trials["is_hit"].tolist() == [True, False, False, False, True]
    assert trials["block_index"].dtype == np.int32
    repeat = trials["repeat_index"].to_numpy()  # int column with a null: float64 + NaN
    assert repeat.dtype == np.float64 and np.isnan(repeat[2]) and repeat[4] == 1.0
    assert trials["opto_stim_name"].tolist() == ["", "ctrl", "", "", ""]
    assert "opto_label" not in trials.columns  # all null: not written
    epochs = nwb.epochs.to_dataframe()
    assert epochs["script_name"].tolist() == ["DynamicRouting1", "RFMapping"]
    assert [list(t) for t in epochs["tags"]] == [["task", "rewards"], ["rf_mapping"]]
    assert [list(t) for t in epochs["interval_names"]] == [["trials"], ["VisRFMapping"]]
    rf = nwb.intervals["VisRFMapping"].to_dataframe()
    assert set(rf.columns) == {"start_time", "stop_time", "stim_start_time", "grating_orientation",
                               "is_small_field_grating", "trial_index"}
    assert rf["trial_index"].tolist() == [0, 1, 2]
    assert rf["is_small_field_grating"].tolist() == [True, True, False]
    assert np.isnan(rf["grating_orientation"].iloc[2])
    invalid = nwb.invalid_times.to_dataframe()
    assert invalid["reason"].tolist() == ["probe B saturated"]
    assert [list(t) for t in invalid["tags"]] == [["invalid"]]
    assert (invalid["start_time"].tolist(), invalid["stop_time"].tolist()) == ([95.0], [96.0])


def test_events_and_timeseries(nwb) -> None:
    behavior = nwb.processing["behavior"]
    licks = behavior["licks"]
    assert licks.timestamps[:].tolist() == [11.4, 11.5, 26.5, 31.3]
    assert licks.comments == EVENTS_WITHOUT_VALUES
    assert licks.data[:].tolist() == [1, 1, 1, 1]
    rewards = behavior["BehavioralEvents"]["rewards"]
    assert rewards.timestamps[:].tolist() == [11.45, 31.35, 50.0]
    assert rewards.data[:].tolist() == [0.005, 0.005, 0.004]
    assert rewards.description == "water rewards (ml)"
    speed = behavior["running_speed"]
    assert speed.unit == "cm/s"
    assert speed.data.shape == (100,)
    assert speed.timestamps is None and speed.rate == 60.0  # regular: rate replaces timestamps exactly
    assert np.array_equal(speed.get_timestamps(), np.array([i / 60 for i in range(100)]))
    eye = behavior["BehavioralTimeSeries"]["eye_position"]
    data = eye.data[:]
    assert data.shape == (3, 2) and np.isnan(data[1, 1]) and data[2].tolist() == [3.0, -3.0]
    assert eye.get_timestamps().tolist() == [0.0, 0.5, 1.0]


def test_inspector_and_validation(written: Path) -> None:
    messages = list(nwbinspector.inspect_nwbfile(nwbfile_path=written, config=nwbinspector.load_config("dandi")))
    for message in messages:
        print(message.importance.name, message.check_function_name, message.location, message.message)
    bad = {nwbinspector.Importance.CRITICAL, nwbinspector.Importance.PYNWB_VALIDATION, nwbinspector.Importance.ERROR}
    assert not [m for m in messages if m.importance in bad]
    assert pynwb.validate(path=str(written)) == []


def test_refuses_existing_path_and_leaves_no_partial_file(tmp_path: Path) -> None:
    path = tmp_path / "s.nwb"
    path.write_bytes(b"not nwb")
    with pytest.raises(NpcLakeError, match="overwrite=True"):
        write_nwbfile(make_bundle(), path)
    assert write_nwbfile(make_bundle(), path, overwrite=True) == path
    assert path.read_bytes()[:8] == b"\x89HDF\r\n\x1a\n"

    broken = make_bundle()
    broken.tables["units"] = broken.tables["units"].with_columns(pl.Series("num_spikes", [50, 0, 29]))
    other = tmp_path / "broken.nwb"
    with pytest.raises(SessionError, match="spike batches disagree"):
        write_nwbfile(broken, other)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.nwb"]


def test_counts_spikes_when_num_spikes_is_missing() -> None:
    bundle = make_bundle()
    bundle.tables["units"] = bundle.tables["units"].drop("num_spikes")
    nwbfile = build_nwbfile(bundle)
    assert nwbfile.units["spike_times_index"].data.tolist() == [50, 50, 80]


def test_sparse_session(tmp_path: Path) -> None:
    """Only sessions + units: no spikes at all, no electrodes/groups, waveforms for some units."""
    full = make_bundle()
    n = 70  # more than one waveform write chunk (64 units)
    waveforms = [_waveform(i) if i % 3 else None for i in range(n)]
    units = _frame("units", {
        "session_id": [SESSION] * n, "unit_id": [f"{SESSION}_A-{i}" for i in range(n)], "num_spikes": [0] * n,
        "electrode_group_name": ["probeA"] * n, "waveform_mean": waveforms, "electrodes": [[1, 2]] * n,
    })
    bundle = SessionBundle(session_id=SESSION, source_uri="memory://sparse",
                           tables={"sessions": full.tables["sessions"], "units": units})
    path = write_nwbfile(bundle, tmp_path / "sparse.nwb")
    assert pynwb.validate(path=str(path)) == []
    with pynwb.NWBHDF5IO(str(path), mode="r", load_namespaces=True) as io:
        nwb = io.read()
        assert nwb.electrodes is None and nwb.trials is None and nwb.subject.subject_id == "626791"
        got = nwb.units
        assert got["spike_times"].target.data.shape == (0,)
        assert list(got["electrode_group_name"][:]) == ["probeA"] * n  # no such group: kept as text
        assert "electrodes" not in got.colnames
        mean = got["waveform_mean"][:]
        assert mean.shape == (n, 5, 4)
        assert np.isnan(mean[66]).all() and np.array_equal(mean[67], np.array(_waveform(67)))


def test_rejects_dangling_links() -> None:
    bundle = make_bundle()
    bundle.tables["electrodes"] = bundle.tables["electrodes"].with_columns(
        pl.lit("probeC").alias("electrode_group_name"))
    with pytest.raises(SessionError, match="probeC"):
        build_nwbfile(bundle)
    bundle = make_bundle()
    bundle.tables["units"] = bundle.tables["units"].with_columns(
        pl.Series("electrodes", [[0], [1], [99]], dtype=pl.List(pl.Int64)))
    with pytest.raises(SessionError, match="99"):
        build_nwbfile(bundle)


def test_import_does_not_load_pynwb() -> None:
    code = "import sys, npc_lake.export; assert 'pynwb' not in sys.modules and 'hdmf' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
