"""Property: synthetic session → NWB → lake → NWB → lake gives identical rows in every table."""

from __future__ import annotations

import tempfile
from pathlib import Path

import polars as pl
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from npc_lake.export.nwbfile import write_nwbfile
from npc_lake.export.session import export_nwb
from npc_lake.lake import Lake
from npc_lake.pipeline import ingest
from npc_lake.schema import SESSION_TABLES, TABLES, SessionBundle
from npc_lake.testing import synth_session

PROVENANCE = {"sessions": ["source_uri", "source_hash", "nwb_version"]}
OPTIONAL_TABLES = ("intervals", "events", "timeseries", "epochs", "trials", "subjects")


def rows(lake: Lake, table: str) -> pl.DataFrame:
    frame = lake.scan(table).collect().drop(PROVENANCE.get(table, []))
    keys = [k for k in TABLES[table].sort_by if k in frame.columns]
    return frame.sort(keys).select(sorted(frame.columns))


@st.composite
def sessions(draw: st.DrawFn) -> SessionBundle:
    bundle = synth_session(draw(st.integers(0, 50)), n_units=draw(st.integers(0, 6)),
                           duration_s=draw(st.floats(60.0, 120.0)), seed=draw(st.integers(0, 2**16)),
                           n_probes=draw(st.integers(1, 2)), cameras=draw(st.booleans()))
    for table in draw(st.lists(st.sampled_from(OPTIONAL_TABLES), unique=True, max_size=3)):
        bundle.tables.pop(table, None)  # whole tables absent: empty in the lake
    text = draw(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), min_size=1,
                        max_size=20))
    bundle.tables["sessions"] = bundle.tables["sessions"].with_columns(pl.lit(text).alias("session_description"))
    units = bundle.tables["units"]
    if units.height and draw(st.booleans()):  # a metric nobody computed: NaN throughout
        bundle.tables["units"] = units.with_columns(pl.lit(float("nan")).alias("snr"))
    if units.height and draw(st.booleans()):  # a unit that never fired
        silent = units["unit_id"][0]
        bundle.tables["units"] = bundle.tables["units"].with_columns(
            pl.when(pl.col("unit_id") == silent).then(0).otherwise(pl.col("num_spikes")).alias("num_spikes"))
        original = bundle.spike_batches
        bundle.spike_batches = lambda: (b.filter(pl.col("unit_id") != silent) for b in original())
    return bundle


# no shrinking phase: each example writes NWB files and Delta tables
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow],
          phases=(Phase.explicit, Phase.reuse, Phase.generate))
@given(bundle=sessions())
def test_nwb_lake_nwb_lake_is_identity(bundle: SessionBundle) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        source = write_nwbfile(bundle, root / "source.nwb")
        first, second = Lake.open(root / "first"), Lake.open(root / "second")
        session_id = ingest(source, lake=first).session_id
        exported = export_nwb(session_id, root / "exported.nwb", lake=first)
        assert ingest(exported, lake=second).session_id == session_id
        for table in SESSION_TABLES:
            assert_frame_equal(rows(second, table), rows(first, table), check_exact=True)
