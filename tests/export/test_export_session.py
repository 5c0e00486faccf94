"""Lake → NWB → lake gives the same rows (the basis of `npc-lake export-nwb`)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from npc_lake.errors import LakeError, NpcLakeError, SchemaError
from npc_lake.export.session import export_nwb
from npc_lake.lake import Lake
from npc_lake.pipeline import ingest
from npc_lake.schema import SESSION_TABLES, TABLES
from npc_lake.testing import write_synthetic_nwb

PROVENANCE = {"sessions": ["source_uri", "source_hash"]}


def rows(lake: Lake, table: str) -> pl.DataFrame:
    frame = lake.scan(table).collect().drop(PROVENANCE.get(table, []))
    keys = [k for k in TABLES[table].primary_key if k in frame.columns]
    return frame.sort(keys).select(sorted(frame.columns))


def test_export_then_ingest_gives_identical_rows(tmp_path: Path) -> None:
    source = write_synthetic_nwb(tmp_path / "nwb", n_sessions=1, n_units=15, duration_s=200.0, seed=3)[0]
    first = Lake.open(tmp_path / "first")
    session_id = ingest(source, lake=first).session_id
    exported = export_nwb(session_id, tmp_path / "out.nwb", lake=first)
    second = Lake.open(tmp_path / "second")
    assert ingest(exported, lake=second).session_id == session_id
    for table in SESSION_TABLES:
        assert_frame_equal(rows(second, table), rows(first, table), check_exact=True, check_column_order=False)


def test_export_errors(tmp_path: Path) -> None:
    lake = Lake.open(tmp_path / "lake")
    with pytest.raises(LakeError, match="not in the lake"):
        export_nwb("600001_2024-01-02", tmp_path / "x.nwb", lake=lake)
    (tmp_path / "taken.nwb").write_bytes(b"keep me")
    with pytest.raises(NpcLakeError, match="exists"):
        export_nwb("600001_2024-01-02", tmp_path / "taken.nwb", lake=lake)
    assert (tmp_path / "taken.nwb").read_bytes() == b"keep me"


def test_subject_fields_fill_this_export_only(tmp_path: Path) -> None:
    pynwb = pytest.importorskip("pynwb")
    source = write_synthetic_nwb(tmp_path / "nwb", n_sessions=1, n_units=3, duration_s=120.0, seed=5)[0]
    lake = Lake.open(tmp_path / "lake")
    session_id = ingest(source, lake=lake).session_id
    before = rows(lake, "subjects")
    path = export_nwb(session_id, tmp_path / "out.nwb", lake=lake,
                      subject={"age": "P120D", "date_of_birth": "2022-01-05", "strain": "C57BL/6J"})
    with pynwb.NWBHDF5IO(str(path), "r") as io:
        subject = io.read().subject
        assert (subject.age, subject.strain) == ("P120D", "C57BL/6J")
        assert subject.date_of_birth.isoformat() == "2022-01-05T00:00:00+00:00"
        assert subject.subject_id == before["subject_id"][0] and subject.species == before["species"][0]
    assert_frame_equal(rows(lake, "subjects"), before)  # the lake is not changed
    with pytest.raises(SchemaError, match=r"no column 'eye_colour'.*subject fields are subject_id"):
        export_nwb(session_id, tmp_path / "a.nwb", lake=lake, subject={"eye_colour": "red"})
    with pytest.raises(SchemaError, match="date_of_birth 'last spring' is not an ISO 8601 date"):
        export_nwb(session_id, tmp_path / "b.nwb", lake=lake, subject={"date_of_birth": "last spring"})
    assert not (tmp_path / "a.nwb").exists() and not (tmp_path / "b.nwb").exists()
