"""The raw DR format readers on the real example files: what each holds, and clear errors for bad files."""

from __future__ import annotations

import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

from npc_lake.errors import SourceError
from npc_lake.sources.kilosort import read_sorted
from npc_lake.sources.openephys import find_recordings, read_recording
from npc_lake.sources.sync import read_sync
from npc_lake.sources.task_hdf5 import read_task_file, task_name_of

from conftest import realdata_path

SYNC = ("dr", "sync", "allensdk_behavior_ophys_sync_truncated.h5")
TASK = ("dr", "task_hdf5", "MGtesting_20240611_102725.hdf5")
OPEN_EPHYS = ("openephys", "v0.6.x_neuropixels_multiexp_multistream")
PHY = ("kilosort", "phy_example_0")


def test_real_sync_file_lines_rate_and_edges() -> None:
    sync = read_sync(realdata_path(*SYNC))
    assert sync.sample_rate == 100_000.0 and sync.total_samples == 453_010_000
    assert sync.duration == pytest.approx(4530.1)
    assert [(bit, label) for bit, label in enumerate(sync.line_labels) if label] == [
        (0, "2p_vsync"), (2, "stim_vsync"), (4, "stim_photodiode"), (5, "acq_trigger"), (8, "cam1_exposure"),
        (9, "cam2_exposure"), (31, "lick_sensor")]
    assert sync.start_time is not None and sync.start_time.isoformat() == "2020-12-17T10:20:53.079171"
    assert sync.rising_edges("cam1_exposure")[:3].tolist() == [0.1495, 0.17789, 0.19598]
    assert (sync.rising_edges("cam1_exposure").size, sync.falling_edges("cam1_exposure").size) == (25, 25)
    assert (sync.rising_edges("cam2_exposure").size, sync.falling_edges("cam2_exposure").size) == (24, 23)
    assert sync.rising_edges("lick_sensor").tolist() == [0.82373] and sync.rising_edges("stim_vsync").size == 0
    assert np.array_equal(sync.rising_edges("cam1_exposure"), sync.rising_edges(8))
    edges = sync.edges_frame()
    assert edges.height == 99 and edges["sample"].is_sorted()  # every change of the 100 rows but the first
    with pytest.raises(SourceError, match="no line labelled 'vsync_stim'"):
        sync.rising_edges("vsync_stim")


def test_sync_counter_wrap_is_undone(tmp_path: Path) -> None:
    path = tmp_path / "wrap.h5"
    with h5py.File(path, "w") as file:
        file["data"] = np.array([[0, 0], [2**32 - 10, 1], [5, 0], [20, 1]], dtype=np.uint32)
        file["meta"] = repr({"ni_daq": {"counter_output_freq": 100.0, "counter_bits": 32},
                             "line_labels": ["line0"]}).encode()
    sync = read_sync(path)
    assert sync.rising_edges("line0").tolist() == [(2**32 - 10) / 100, (2**32 + 20) / 100]
    assert sync.falling_edges("line0").tolist() == [(2**32 + 5) / 100]


@pytest.mark.parametrize("breakage", ["missing", "truncated", "not_hdf5", "no_meta", "bad_meta"])
def test_bad_sync_files_name_the_file_and_reason(tmp_path: Path, breakage: str) -> None:
    path = tmp_path / "bad.h5"
    if breakage == "truncated":
        data = realdata_path(*SYNC).read_bytes()
        path.write_bytes(data[: len(data) // 3])
    elif breakage == "not_hdf5":
        path.write_text("hello")
    elif breakage in ("no_meta", "bad_meta"):
        with h5py.File(path, "w") as file:
            file["data"] = np.zeros((2, 2), dtype=np.uint32)
            if breakage == "bad_meta":
                file["meta"] = b"{'line_labels': [__import__('os')]}"
    with pytest.raises(SourceError, match=str(path)):
        read_sync(path)


def test_real_task_file_decodes_taskcontrol_quirks() -> None:
    task = read_task_file(realdata_path(*TASK), task_name="DynamicRouting1")
    assert task.task_name == "DynamicRouting1" and task.frame_rate == 60.0
    assert task.n_frames == 72 and task.value("lastFrame") == 71
    assert task.value("subjectName") == "MGtesting" and task.value("rigName") == "Tilda"
    assert task.value("computerName") is None  # None is stored as NaN
    assert task.start_time is not None and task.start_time.isoformat() == "2024-06-11T10:51:09"
    assert task.strings("trialStim") == ["vis1"] and task.strings("blockStimRewarded") == ["vis1"]
    assert task.literal_lists("blockStim") == [["vis1", "vis2"]]
    assert task.group("toneFreq") == {"sound1": 6000, "sound2": 10000}
    assert task.array("trialBlock").tolist() == [1] and task.array("trialResponse").size == 0
    assert task.strings("trialOptoLabel") == []  # an empty list is stored as float (0,)
    assert task.array("responseWindow").tolist() == [6, 60] and task.value("quiescentFrames") == 90
    assert task.array("frameIntervals").sum() == pytest.approx(1.184, abs=1e-3)
    assert task_name_of("DynamicRouting1_620263_20220726_103514.hdf5") == "DynamicRouting1"
    assert task_name_of(realdata_path(*TASK)) is None  # a rig test run: <subject>_<date>_<time>.hdf5
    with pytest.raises(SourceError, match="cannot tell the TaskControl class"):
        read_task_file(realdata_path(*TASK))


def test_bad_task_files_name_the_file_and_reason(tmp_path: Path) -> None:
    truncated = tmp_path / "DynamicRouting1_600001_20240102_100000.hdf5"
    data = realdata_path(*TASK).read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(SourceError, match=f"{truncated}: cannot read as a TaskControl HDF5 file"):
        read_task_file(truncated)
    other = tmp_path / "Other_600001_20240102_100000.hdf5"
    with h5py.File(other, "w") as file:
        file["x"] = 1
    with pytest.raises(SourceError, match="not a TaskControl output file"):
        read_task_file(other)


def test_real_open_ephys_recordings_streams_and_ttl_events() -> None:
    recordings = find_recordings(realdata_path(*OPEN_EPHYS))
    assert [(r.experiment, r.recording) for r in recordings] == [(1, 1), (3, 1), (6, 1)]
    first = recordings[0]
    assert [(s.name, s.probe_letter, s.sample_rate, s.num_channels, s.num_samples, s.first_sample)
            for s in first.streams] == [("ProbeB", "B", 30000.0, 384, 100, 1863198),
                                        ("ProbeC", "C", 30000.0, 384, 100, 1863781),
                                        ("PXIe-6341", None, 30000.0, 8, 100, 1867001)]
    assert first.stream("ProbeB").bit_volts == pytest.approx(0.195)
    assert first.start_time is not None and first.start_time.isoformat() == "2022-05-03T17:52:24.618000+00:00"
    probe = first.ttl_events("ProbeB")
    assert probe.height == 1674 and set(probe["line"]) == {0} and probe["is_rising"].sum() == 837
    assert probe["sample_number"].head(2).to_list() == [1866812, 1881811] and probe["sample_number"].is_sorted()
    daq = first.ttl_events("PXIe-6341")
    assert daq.filter(daq["line"] == 1)["is_rising"].sum() == 360
    rising = probe.filter(probe["is_rising"])["sample_number"].diff().drop_nulls()
    assert rising.median() == pytest.approx(30_000, abs=2)  # a 1 Hz square wave on the probe's sync input


def test_bad_open_ephys_folders_name_the_file(tmp_path: Path) -> None:
    source = realdata_path(*OPEN_EPHYS, "Record Node 101", "experiment1", "recording1")
    copy = tmp_path / "recording1"
    shutil.copytree(source, copy)
    (copy / "structure.oebin").write_text("{ not json")
    with pytest.raises(SourceError, match=r"structure\.oebin: cannot read the Open Ephys structure file"):
        read_recording(copy)
    shutil.copy(source / "structure.oebin", copy / "structure.oebin")
    states = copy / "events" / "Neuropix-PXI-100.ProbeB" / "TTL" / "states.npy"
    states.write_bytes(states.read_bytes()[:100])
    with pytest.raises(SourceError, match=r"states\.npy: cannot read as a NumPy array"):
        read_recording(copy).ttl_events("ProbeB")


def test_real_phy_output_clusters_labels_and_peak_channels() -> None:
    sorted_probe = read_sorted(realdata_path(*PHY))
    assert sorted_probe.sample_rate == 32000.0 and sorted_probe.spike_samples.size == 788
    assert sorted_probe.spike_samples[:3].tolist() == [380, 826, 972]
    assert np.bincount(sorted_probe.spike_clusters).tolist() == [30, 30, 12, 53, 129, 50, 37, 48, 43, 110, 2, 193, 51]
    clusters = sorted_probe.clusters
    assert clusters["cluster_id"].to_list() == list(range(13))
    assert clusters.filter(clusters["label"] == "good")["cluster_id"].to_list() == [9, 10, 11]
    assert clusters["label"].to_list() == clusters["ks_label"].to_list()  # cluster_group.tsv headed KSLabel
    assert clusters["ContamPct"].to_list()[2] == 100.0 and clusters["Amplitude"][0] == pytest.approx(4066.7)
    assert clusters["peak_channel"].to_list() == [2, 2, 5, 5, 6, 9, 11, 13, 19, 21, 22, 22, 24]
    assert sorted_probe.channel_positions is not None and sorted_probe.channel_positions.shape == (32, 2)


def test_sorted_output_with_metrics_and_bad_arrays(tmp_path: Path) -> None:
    copy = tmp_path / "sorted"
    shutil.copytree(realdata_path(*PHY), copy)
    (copy / "metrics.csv").write_text(",isi_violations_ratio,presence_ratio\n0,0.1,0.9\n9,0.6,nan\n")
    clusters = read_sorted(copy).clusters
    assert clusters.filter(clusters["cluster_id"] == 9)["isi_violations_ratio"].to_list() == [0.6]
    assert clusters["presence_ratio"].null_count() == 11 and clusters["presence_ratio"].is_nan().sum() == 1
    np.save(copy / "amplitudes.npy", np.zeros(5))
    with pytest.raises(SourceError, match=r"per-spike arrays differ in length \(\[5, 788\]\)"):
        read_sorted(copy)
    (copy / "spike_times.npy").unlink()
    with pytest.raises(SourceError, match=r"sorted output lacks spike_times\.npy"):
        read_sorted(copy)
