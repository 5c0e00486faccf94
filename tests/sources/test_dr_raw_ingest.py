"""Raw DR folders through the pipeline: broken parts are skipped and logged, untimeable folders refused,
and a raw session survives export to NWB and back."""

from __future__ import annotations

import shutil
from pathlib import Path

import h5py
import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner

import npc_lake
from npc_lake.cli import main
from npc_lake.errors import SourceError
from npc_lake.lake import Lake, read_log
from npc_lake.pipeline import ingest
from npc_lake.schema import SESSION_TABLES
from npc_lake.sources.dr_raw import read_dr_session
from npc_lake.testing.synth_raw import RawTruth, write_raw_session

from conftest import realdata_path

PROVENANCE = ("source_uri", "source_hash", "nwb_version")


@pytest.fixture(scope="module")
def raw(tmp_path_factory: pytest.TempPathFactory) -> RawTruth:
    return write_raw_session(tmp_path_factory.mktemp("raw"), index=5, seed=5, n_units=24, duration_s=240.0,
                             n_probes=2, cameras=False)


def broken_copy(truth: RawTruth, tmp_path: Path) -> Path:
    folder = tmp_path / truth.folder.name
    shutil.copytree(truth.folder, folder)
    return folder


def lake_rows(lake: Lake) -> dict[str, pl.DataFrame]:
    rows = {}
    for name in SESSION_TABLES:
        frame = lake.scan(name).collect()
        frame = frame.drop([c for c in PROVENANCE if c in frame.columns]) if name == "sessions" else frame
        rows[name] = frame.sort(frame.columns)
    return rows


def test_raw_session_exported_to_nwb_and_ingested_again_gives_identical_rows(raw: RawTruth, tmp_path: Path) -> None:
    direct = Lake.open(tmp_path / "direct")
    outcome = ingest(raw.folder, lake=direct)
    assert outcome.status == "written" and not outcome.skipped
    nwb = npc_lake.export_nwb(raw.session_id, tmp_path / "session.nwb", lake=direct)
    again = Lake.open(tmp_path / "again")
    ingest(nwb, lake=again)
    first, second = lake_rows(direct), lake_rows(again)
    for name in SESSION_TABLES:
        assert first[name].equals(second[name]), name
    assert first["sessions"]["rig"].to_list() == ["NP3"]
    assert ingest(raw.folder, lake=direct).status == "unchanged"  # the folder listing did not change
    opto = first["intervals"].filter(pl.col("interval_name") == "OptoTagging")
    assert opto.height and set(opto["device_name"]) == {"laser_488"}
    assert "laser_488" in first["devices"]["device_name"].to_list()
    pynwb = pytest.importorskip("pynwb")
    with pynwb.NWBHDF5IO(str(nwb), "r") as io:
        nwbfile = io.read()
        sites = nwbfile.ogen_sites
        assert {site.location for site in sites.values()} == set(opto["location"].drop_nulls())
        for site in sites.values():
            assert site.device.name == "laser_488" and site.excitation_lambda == 488.0
            assert "mm lateral" in site.description
            pulses = nwbfile.stimulus[f"{site.name}_pulses"]
            mine = opto.filter(pl.col("location") == site.location).sort("stim_start_time")
            assert pulses.site is site and np.array_equal(pulses.timestamps[::2], mine["stim_start_time"].to_numpy())
            assert np.allclose(pulses.data[::2], mine["power"].to_numpy() / 1000) and not pulses.data[1::2].any()


@pytest.mark.parametrize("breakage", ["truncated_task", "probe_without_sorted_output", "probe_without_stream",
                                      "no_barcodes_on_a_probe", "corrupt_spike_times", "no_task_files"])
def test_a_broken_part_is_skipped_and_logged(raw: RawTruth, tmp_path: Path, breakage: str) -> None:
    folder = broken_copy(raw, tmp_path)
    letters = sorted(raw.clocks)
    if breakage == "truncated_task":
        path = next((folder / "behavior").glob("RFMapping_*.hdf5"))
        path.write_bytes(path.read_bytes()[:5000])
        expected = f"epochs ({path.name})"
    elif breakage == "probe_without_sorted_output":
        shutil.rmtree(folder / "sorted" / f"Probe{letters[1]}")
        expected = f"units (probe{letters[1]}): no sorted output"
    elif breakage == "probe_without_stream":
        recording = next(folder.rglob("recording1"))
        shutil.rmtree(recording / "events" / f"Neuropix-PXI-100.Probe{letters[0]}-AP")
        expected = f"units (probe{letters[0]})"
    elif breakage == "no_barcodes_on_a_probe":
        ttl = next(folder.rglob(f"Neuropix-PXI-100.Probe{letters[0]}-AP/TTL"))
        np.save(ttl / "sample_numbers.npy", np.array([], dtype=np.int64))
        np.save(ttl / "states.npy", np.array([], dtype=np.int16))
        expected = f"units (probe{letters[0]}): fewer than two barcodes"
    elif breakage == "corrupt_spike_times":
        (folder / "sorted" / f"Probe{letters[0]}" / "spike_times.npy").write_bytes(b"\x93NUMPY garbage")
        expected = f"units (probe{letters[0]})"
    else:
        for path in (folder / "behavior").glob("*.hdf5"):
            path.unlink()
        expected = "epochs, trials and intervals: no TaskControl files"
    lake = Lake.open(tmp_path / "lake")
    outcome = ingest(folder, lake=lake)
    assert any(item.startswith(expected) for item in outcome.skipped), outcome.skipped
    assert list(read_log(lake=lake)["skipped"][0]) == outcome.skipped
    assert lake.scan("sessions").collect()["session_id"].to_list() == [raw.session_id]
    trials = lake.scan("trials").collect().height  # the rest went in
    assert trials == (0 if breakage == "no_task_files" else raw.trials().height)
    if breakage not in ("truncated_task", "no_task_files"):
        kept = lake.scan("units").collect()["electrode_group_name"].unique().to_list()
        assert kept and len(kept) == 1


@pytest.mark.parametrize("breakage", ["no_sync", "corrupt_sync", "no_vsync"])
def test_a_folder_that_cannot_be_timed_is_refused_and_the_lake_unchanged(raw: RawTruth, tmp_path: Path,
                                                                        breakage: str) -> None:
    lake = Lake.open(tmp_path / "lake")
    ingest(write_raw_session(tmp_path / "other", index=6, seed=6, n_units=6, duration_s=120.0, n_probes=1,
                             cameras=False).folder, lake=lake)
    before = lake_rows(lake)
    folder = broken_copy(raw, tmp_path)
    sync = next((folder / "behavior").glob("*T*.h5"))
    if breakage == "no_sync":
        sync.unlink()
        reason = "no sync file"
    elif breakage == "corrupt_sync":
        sync.write_bytes(sync.read_bytes()[:2000])
        reason = "cannot read as a sync file"
    else:
        with h5py.File(sync, "a") as file:
            data = file["data"][()]
            data[:, 1] &= ~np.uint32(1 << 2)  # vsync_stim is bit 2
            del file["data"]
            file["data"] = data
        reason = "no vsync edges"
    with pytest.raises(SourceError, match=reason):
        ingest(folder, lake=lake)
    assert lake_rows(lake).keys() == before.keys()
    for name, frame in lake_rows(lake).items():
        assert frame.equals(before[name]), name


def test_overrides_file_skips_a_probe_and_adds_invalid_times(raw: RawTruth, tmp_path: Path) -> None:
    folder = broken_copy(raw, tmp_path)
    letter = sorted(raw.clocks)[0]
    (folder / "npc_lake.toml").write_text(
        f'[sessions."{raw.session_id}"]\nskip_probes = ["{letter}"]\n'
        '[sessions."' + raw.session_id + '".subject]\nsex = "F"\ngenotype = "wt/wt"\n'
        '[[sessions."' + raw.session_id + '".invalid_times]]\nstart_time = 10.0\nstop_time = 20.0\n'
        'reason = "probe moved"\n')
    bundle = read_dr_session(folder)
    assert f"units (probe{letter}): listed in skip_probes of npc_lake.toml" in bundle.skipped
    assert bundle.tables["subjects"]["sex"].to_list() == ["F"]
    invalid = bundle.tables["intervals"].filter(pl.col("interval_name") == "invalid_times")
    assert invalid.select("start_time", "stop_time", "reason").rows() == [(10.0, 20.0, "probe moved")]


def test_real_open_ephys_sync_square_wave_is_not_taken_for_barcodes() -> None:
    from npc_lake.sources.openephys import find_recordings
    from npc_lake.sources.timing import decode_barcodes

    recording = find_recordings(realdata_path("openephys", "v0.6.x_neuropixels_multiexp_multistream"))[0]
    events = recording.ttl_events("ProbeB")
    rising = events.filter(pl.col("is_rising"))["sample_number"].to_numpy().astype(float)
    falling = events.filter(~pl.col("is_rising"))["sample_number"].to_numpy().astype(float)
    found = decode_barcodes(rising, falling, bar=450.0, min_gap=30_000.0)
    assert found.starts.size == 0  # a 1 Hz square wave has no quiet second before any edge


def test_cli_synthesizes_raw_folders_and_ingests_them_in_parallel(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["synth", str(tmp_path / "raw"), "--format", "raw", "--sessions", "2",
                                  "--units", "8", "--duration-s", "120", "--probes", "1"])
    assert result.exit_code == 0, result.output
    folders = result.output.split()
    assert len(folders) == 2 and all(Path(f).is_dir() for f in folders)
    again = runner.invoke(main, ["synth", str(tmp_path / "raw"), "--format", "raw", "--units", "8",
                                 "--duration-s", "120", "--probes", "1"])
    assert again.exit_code != 0 and "exists" in again.output
    lake = tmp_path / "lake"
    result = runner.invoke(main, ["ingest", *folders, "--lake", str(lake), "--jobs", "2", "--source", "dr-raw"])
    assert result.exit_code == 0, result.output
    assert Lake.open(lake).scan("sessions").collect().height == 2
    result = runner.invoke(main, ["ingest", str(tmp_path / "nowhere"), "--lake", str(lake)])
    assert result.exit_code == 1 and "no such file or folder" in result.output
