"""Stimulus templates from the stimuli table: gratings that are the gratings, sounds at their frequencies."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from npc_lake.export.session import export_nwb
from npc_lake.export.stimuli import PIXELS_PER_DEGREE, grating_image, sound_waveform
from npc_lake.export.validate import validate_nwb
from npc_lake.lake import Lake
from npc_lake.pipeline import ingest
from npc_lake.sources.dr_task import stimuli_frame
from npc_lake.sources.task_hdf5 import read_task_file
from npc_lake.testing import synth_session, write_synthetic_nwb
from npc_lake.testing.synth_trials import synth_stimuli

from conftest import realdata_path

pynwb = pytest.importorskip("pynwb")


def test_gratings_are_drawn_at_their_orientation_size_and_frequency() -> None:
    rows = {row["stim_name"]: row for row in synth_stimuli("600001_2024-01-02", task_version="x").iter_rows(named=True)}
    vertical, horizontal = grating_image(rows["vis1"]), grating_image(rows["vis2"])
    assert vertical is not None and horizontal is not None
    assert vertical.shape == horizontal.shape == (round(50 * PIXELS_PER_DEGREE),) * 2
    assert set(np.unique(vertical)) == {0, 128, 255}  # square wave, full contrast, gray surround
    centre = vertical.shape[0] // 2
    core = slice(centre - 40, centre + 40)
    assert (vertical[core, core] == vertical[centre, core]).all()  # 0°: vertical bars, constant down a column
    assert (horizontal[core, core].T == horizontal[core, centre]).all()  # 90°: horizontal bars
    across = slice(centre - 95, centre + 95)  # 47.5° of the 50° patch: about two cycles of 25°
    bars = np.flatnonzero(np.diff(vertical[centre, across].astype(int)) != 0)
    assert bars.size >= 3
    period_px = 2 * np.median(np.diff(bars))  # two edges per cycle
    assert period_px == pytest.approx(PIXELS_PER_DEGREE / 0.04, rel=0.05)
    assert vertical[0, 0] == 128  # outside the round patch


@pytest.mark.parametrize("version", ["stage 5 ori tone moving", "stage 5 ori AMN moving"])
def test_sounds_have_their_frequencies(version: str) -> None:
    rows = {row["stim_name"]: row for row in synth_stimuli("600001_2024-01-02", task_version=version).iter_rows(
        named=True)}
    for name in ("sound1", "sound2"):
        row = rows[name]
        wave = sound_waveform(row)
        assert wave is not None and wave.dtype == np.float32 and wave.size == 48000 * 0.5
        assert np.abs(wave).max() == pytest.approx(1.0)
        frequencies = np.fft.rfftfreq(wave.size, 1 / 48000)
        power = np.abs(np.fft.rfft(wave)) ** 2
        if row["sound_type"] == "tone":
            assert frequencies[np.argmax(power)] == pytest.approx(row["tone_freq"], abs=2)
            assert abs(wave[0]) < 1e-6 and abs(wave[-1]) < 0.01  # ramped on and off
        else:
            band = (frequencies >= row["noise_low_freq"]) & (frequencies <= row["noise_high_freq"])
            assert power[band].sum() / power.sum() > 0.9
            envelope = np.abs(np.fft.rfft(np.abs(wave) - np.abs(wave).mean()))
            assert frequencies[1 + np.argmax(envelope[1:200])] == pytest.approx(row["am_freq"], abs=2)


def test_exported_templates_and_definitions(tmp_path: Path) -> None:
    source = write_synthetic_nwb(tmp_path / "nwb", n_sessions=1, n_units=5, duration_s=120.0, seed=2)[0]
    lake = Lake.open(tmp_path / "lake")
    session_id = ingest(source, lake=lake).session_id
    assert lake.scan("stimuli").collect().height == 4
    path = export_nwb(session_id, tmp_path / "out.nwb", lake=lake)
    with pynwb.NWBHDF5IO(str(path), "r") as io:
        nwbfile = io.read()
        templates = nwbfile.stimulus_template
        assert set(templates) == {"vis1", "vis2", "sound1", "sound2"}
        image = templates["vis1"].images["vis1"]
        assert image.data.shape == (200, 200) and "grating_orientation=0" in templates["vis1"].description
        assert templates["sound1"].rate == 48000.0 and templates["sound1"].data.shape == (24000,)
        assert len(nwbfile.scratch["npc_lake_stimuli"]) == 4
    findings = [f for f in validate_nwb(path).findings if "template" in f.location or "Images" in f.location]
    assert not [f for f in findings if f.importance in ("CRITICAL", "PYNWB_VALIDATION", "ERROR")], findings
    assert synth_session(0, n_units=2, duration_s=60.0).tables["stimuli"]["stim_name"].to_list() == [
        "sound1", "sound2", "vis1", "vis2"]


@pytest.mark.realdata
def test_real_task_file_defines_its_gratings() -> None:
    path = realdata_path("dr", "task_hdf5", "MGtesting_20240611_102725.hdf5")
    stimuli = stimuli_frame(read_task_file(path, task_name="DynamicRouting1"))
    rows = {row["stim_name"]: row for row in stimuli.iter_rows(named=True)}
    assert set(rows) == {"vis1", "vis2"}  # this file's blocks show only gratings
    assert (rows["vis1"]["grating_orientation"], rows["vis2"]["grating_orientation"]) == (0.0, 90.0)
    for row in rows.values():
        assert (row["grating_spatial_frequency"], row["grating_size"], row["grating_type"]) == (0.04, 50.0, "sqr")
        assert row["duration"] == 0.5 and row["grating_contrast"] == 1.0 and row["grating_temporal_frequency"] == 0.0
