from __future__ import annotations

from pathlib import Path

import pynwb
import pytest

from npc_lake.demo import run_demo


def test_demo_builds_queries_and_exports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lake = run_demo(workdir=tmp_path, n_sessions=2, n_units=20, duration_s=300.0)
    out = capsys.readouterr().out
    assert "2 of 2 sources ingested" in out or "ingest" in out
    for heading in ("Units passing QC", "Hit rate", "Spikes per unit", "export session"):
        assert heading in out
    exported = list((tmp_path / "export").glob("*.nwb"))
    assert len(exported) == 1
    with pynwb.NWBHDF5IO(str(exported[0]), "r") as io:
        nwb = io.read()
        assert len(nwb.units) == 20 and len(nwb.trials) > 0
    assert lake.scan("sessions").collect().height == 2
