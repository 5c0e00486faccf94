"""A session's spikes stream out whole unit by whole unit, in any requested order, from any file layout."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from npc_lake.lake import Lake
from npc_lake.lake import spikes as spikes_module
from npc_lake.lake import stream as stream_module
from npc_lake.lake.spikes import SpikeFiles, stream_session_spikes
from npc_lake.lake.stream import write_partition_stream
from npc_lake.schema.ephys import UNIT_COLUMNS_IN_SPIKES

SESSION = "600001_2024-01-02"


def stored_spikes(counts: list[int], seed: int, groups: list[str] | None = None) -> pl.DataFrame:
    """Spikes of units u0, u1, … (``counts[i]`` each), units contiguous, each unit's in time order; unit i's
    ``structure`` is ``groups[i]`` (all "VISp" by default)."""
    rng = np.random.default_rng(seed)
    frames = [pl.DataFrame({"session_id": SESSION, "unit_id": f"u{i}",
                            "spike_time": np.sort(rng.uniform(0, 100, n)),
                            "amplitude": rng.normal(50, 5, n).astype(np.float32),
                            "structure": groups[i] if groups else "VISp", "default_qc": i % 2 == 0},
                           schema_overrides={"session_id": pl.String, "unit_id": pl.String,
                                             "spike_time": pl.Float64, "amplitude": pl.Float32,
                                             "structure": pl.String, "default_qc": pl.Boolean})
              for i, n in enumerate(counts)]
    return pl.concat(frames)


def write(lake: Lake, frame: pl.DataFrame, *, rows_per_file: int) -> None:
    """Write ``frame`` as the session's spikes, grouped like ingest does, each batch holding whole units."""
    table = frame.to_arrow()
    batches = [f.to_arrow().to_batches()[0] for _, f in frame.group_by("unit_id", maintain_order=True)]
    write_partition_stream(lake, table_name="spike_times", session_id=SESSION, batches=iter(batches),
                           schema=table.schema, rows_per_file=rows_per_file, group_by=UNIT_COLUMNS_IN_SPIKES)


def collected(batches: Iterator[pl.DataFrame], unit_ids: list[str]) -> pl.DataFrame:
    frames = list(batches)
    for frame in frames:  # every unit whole in one frame
        assert frame["unit_id"].n_unique() == frame["unit_id"].rle().len()
    seen = [u for f in frames for u in f["unit_id"].unique(maintain_order=True).to_list()]
    assert len(seen) == len(set(seen)) and seen == [u for u in unit_ids if u in seen]
    return pl.concat(frames) if frames else pl.DataFrame()


def expected(frame: pl.DataFrame, unit_ids: list[str]) -> pl.DataFrame:
    order = pl.DataFrame({"unit_id": unit_ids, "_order": range(len(unit_ids))})
    return frame.join(order, on="unit_id").sort("_order", "spike_time", maintain_order=True).select(
        "unit_id", "spike_time", "amplitude")


def test_the_stored_order_streams_in_one_pass(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lake = Lake.open(tmp_path / "lake")
    counts = [700, 0, 3, 1200, 1, 450, 80, 900]
    frame = stored_spikes(counts, seed=1, groups=["VISp", "CA1", "VISp", "CA1", None, "VISp", "VISp", "CA1"])
    monkeypatch.setattr(stream_module, "ROW_GROUP_ROWS", 500)
    write(lake, frame, rows_per_file=1000)
    assert len(lake.delta_table("spike_times").file_uris()) > 4  # several files per (structure, default_qc)
    monkeypatch.setattr(spikes_module, "ROWS_PER_READ", 300)  # units span reads

    def refuse(*args: object) -> Iterator[pl.DataFrame]:
        raise AssertionError("the filter path was taken")

    monkeypatch.setattr(spikes_module, "_by_filter", refuse)
    unit_ids = [f"u{i}" for i in range(len(counts))]
    got = collected(stream_session_spikes(lake, SESSION, unit_ids=unit_ids, counts=counts), unit_ids)
    assert got.equals(expected(frame, unit_ids))


@settings(max_examples=25, deadline=None)
@given(counts=st.lists(st.integers(0, 400), min_size=1, max_size=8), rows_per_file=st.integers(50, 2000),
       row_group=st.integers(20, 600), rows_per_read=st.integers(1, 700), data=st.data())
def test_any_requested_order_and_layout_gives_every_unit_whole(counts: list[int], rows_per_file: int,
                                                              row_group: int, rows_per_read: int,
                                                              data: st.DataObject) -> None:
    unit_ids = [f"u{i}" for i in range(len(counts))]
    wanted = data.draw(st.permutations(unit_ids))
    groups = data.draw(st.lists(st.sampled_from(["VISp", "CA1", None]), min_size=len(counts), max_size=len(counts)))
    frame = stored_spikes(counts, seed=len(counts), groups=groups)
    with tempfile.TemporaryDirectory() as folder, pytest.MonkeyPatch.context() as patch:
        patch.setattr(spikes_module, "ROWS_PER_READ", rows_per_read)
        patch.setattr(stream_module, "ROW_GROUP_ROWS", row_group)
        lake = Lake.open(Path(folder) / "lake")
        if frame.height:
            write(lake, frame, rows_per_file=rows_per_file)
        wanted_counts = [counts[unit_ids.index(u)] for u in wanted]
        got = collected(stream_session_spikes(lake, SESSION, unit_ids=wanted, counts=wanted_counts), wanted)
    if frame.height:
        assert got.equals(expected(frame, wanted))
    else:
        assert got.is_empty()


def test_spikes_out_of_time_order_in_storage_come_out_sorted(tmp_path: Path) -> None:
    lake = Lake.open(tmp_path / "lake")
    frame = stored_spikes([5, 6], seed=3)
    shuffled = pl.concat([frame.head(5).reverse(), frame.tail(6)])  # u0 stored backwards
    write(lake, shuffled, rows_per_file=100)
    got = collected(stream_session_spikes(lake, SESSION, unit_ids=["u0", "u1"], counts=[5, 6]), ["u0", "u1"])
    assert got.equals(expected(frame, ["u0", "u1"]))


@settings(max_examples=25, deadline=None)
@given(counts=st.lists(st.integers(0, 300), min_size=1, max_size=8), row_group=st.integers(20, 600),
       shuffle=st.booleans(), data=st.data())
def test_spike_files_give_every_spike_of_the_wanted_groups_with_its_unit(counts: list[int], row_group: int,
                                                                        shuffle: bool,
                                                                        data: st.DataObject) -> None:
    groups = data.draw(st.lists(st.sampled_from(["VISp", "CA1", None]), min_size=len(counts), max_size=len(counts)))
    wanted = data.draw(st.lists(st.tuples(st.sampled_from(["VISp", "CA1", None]), st.booleans()), max_size=3))
    frame = stored_spikes(counts, seed=len(counts), groups=groups)
    if shuffle:  # rows in any order: a lake written by another tool
        frame = frame.sample(fraction=1.0, shuffle=True, seed=row_group)
    with tempfile.TemporaryDirectory() as folder, pytest.MonkeyPatch.context() as patch:
        patch.setattr(stream_module, "ROW_GROUP_ROWS", row_group)
        lake = Lake.open(Path(folder) / "lake")
        if frame.height:
            table = frame.to_arrow()
            write_partition_stream(lake, table_name="spike_times", session_id=SESSION,
                                   batches=iter(table.to_batches(max_chunksize=97)), schema=table.schema,
                                   rows_per_file=400, group_by=() if shuffle else UNIT_COLUMNS_IN_SPIKES)
        units = data.draw(st.none() | st.lists(st.sampled_from([f"u{i}" for i in range(len(counts))]), max_size=3))
        chunks = list(SpikeFiles(lake).chunks(SESSION, unit_groups=wanted, unit_ids=units))
        if units is not None:  # row groups holding none of the units are skipped: never more rows than without
            every = sum(c.codes.size for c in SpikeFiles(lake).chunks(SESSION, unit_groups=wanted))
            assert sum(c.codes.size for c in chunks) <= every
    got = pl.DataFrame({"unit_id": [c.unit_ids[code] for c in chunks for code in c.codes.tolist()],
                        "spike_time": np.concatenate([c.spike_times for c in chunks]) if chunks else []},
                       schema={"unit_id": pl.String, "spike_time": pl.Float64})
    in_wanted = pl.lit(False)
    for structure, qc in wanted:
        in_wanted = in_wanted | ((pl.col("structure").is_null() if structure is None
                                  else pl.col("structure") == structure) & (pl.col("default_qc") == qc))
    if units is not None:
        in_wanted = in_wanted & pl.col("unit_id").is_in(units)
    must = frame.filter(in_wanted).select("unit_id", "spike_time")
    assert must.join(got, on=["unit_id", "spike_time"], how="anti").is_empty()  # every wanted spike
    assert got.join(frame, on=["unit_id", "spike_time"], how="anti").is_empty()  # only stored spikes
    assert got.height <= frame.height and got.n_unique() == got.height


def test_spike_files_of_a_missing_table_or_session_are_empty(tmp_path: Path) -> None:
    lake = Lake.open(tmp_path / "lake")
    assert list(SpikeFiles(lake).chunks(SESSION, unit_groups=[("VISp", True)])) == []
    write(lake, stored_spikes([3], seed=1), rows_per_file=100)
    assert list(SpikeFiles(lake).chunks("600009_2024-01-09", unit_groups=[("VISp", True)])) == []
    assert list(SpikeFiles(lake).chunks(SESSION, unit_groups=[])) == []
