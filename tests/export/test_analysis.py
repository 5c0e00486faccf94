"""The analysis tables in the exported NWB file: where DR puts them, readable with pynwb, clean for DANDI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from npc_lake.export.session import export_nwb
from npc_lake.export.validate import validate_nwb
from npc_lake.lake import Lake
from npc_lake.pipeline import ingest
from npc_lake.testing import write_synthetic_nwb

pynwb = pytest.importorskip("pynwb")


def test_analysis_tables_are_exported_under_analysis(tmp_path: Path) -> None:
    source = write_synthetic_nwb(tmp_path / "nwb", n_sessions=1, n_units=30, duration_s=400.0, seed=11)[0]
    lake = Lake.open(tmp_path / "lake")
    session_id = ingest(source, lake=lake).session_id
    path = export_nwb(session_id, tmp_path / "out.nwb", lake=lake)
    tables = {name: lake.scan(name).collect() for name in ("spike_histograms", "drift_maps", "rf_maps",
                                                            "unit_responses")}
    assert all(frame.height for frame in tables.values())
    with pynwb.NWBHDF5IO(str(path), "r") as io:
        nwbfile = io.read()
        assert set(nwbfile.analysis) == {"all_spike_histograms", "drift_maps", "rf_maps", "unit_responses"}
        histograms = nwbfile.analysis["all_spike_histograms"].time_series
        for (probe,), rows in tables["spike_histograms"].group_by("electrode_group_name"):
            for name, column in ((probe, "spike_count"), (f"{probe}_default_qc", "qc_spike_count")):
                series = histograms[name]
                assert series.rate == 1.0 and series.starting_time == 0.0 and series.unit == "spikes"
                assert np.array_equal(series.data[:], rows.sort("bin_start_time")[column].to_numpy())
        for name in ("drift_maps", "rf_maps", "unit_responses"):
            exported = pl.from_pandas(nwbfile.analysis[name].to_dataframe().reset_index(drop=True))
            stored = tables[name].drop("session_id").sort(exported.columns[:3])
            assert exported.height == stored.height
            assert set(exported.columns) <= set(stored.columns)
            responsive = nwbfile.analysis["unit_responses"]["is_responsive"].description
            assert "p_value <" in responsive
    report = validate_nwb(path)
    assert not [f for f in report.findings if f.importance in ("CRITICAL", "PYNWB_VALIDATION", "ERROR")], report
