"""Property: normalize → write → read gives back exactly the conformed rows (values, dtypes, nulls, NaN),
and rewriting one session leaves the other exactly as it was."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime

import polars as pl
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from npc_lake.lake import Lake, write_session
from npc_lake.normalize import normalize_session
from npc_lake.schema import TABLES, Column, SessionBundle

TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)
FLOATS = st.floats(allow_nan=True, allow_infinity=True, width=64)


def values_for(col: Column) -> st.SearchStrategy[object]:
    dtype = col.dtype
    if dtype == "str":
        base: st.SearchStrategy[object] = TEXT
    elif dtype == "bool":
        base = st.booleans()
    elif dtype.startswith("int"):
        bits = int(dtype[3:])
        base = st.integers(min_value=-(2 ** (bits - 1)), max_value=2 ** (bits - 1) - 1)
    elif dtype.startswith("float"):
        base = st.floats(width=32) if dtype == "float32" else FLOATS
    elif dtype == "datetime":
        base = st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2100, 1, 1),
                            timezones=st.just(UTC))
    elif dtype == "list[str]":
        base = st.lists(TEXT, max_size=3)
    elif dtype == "list[int64]":
        base = st.lists(st.integers(min_value=-(2**40), max_value=2**40), max_size=3)
    elif dtype == "list[list[float64]]":
        base = st.lists(st.lists(FLOATS, max_size=3), max_size=3)
    else:
        raise AssertionError(f"no strategy for {dtype}")
    if col.required:
        return base
    return st.one_of(st.none(), base)


@st.composite
def frames(draw: st.DrawFn, table_name: str) -> pl.DataFrame:
    table = TABLES[table_name]
    n = draw(st.integers(min_value=0, max_value=6))
    optional = [c for c in table.columns if not c.required and c.name not in table.primary_key]
    chosen = draw(st.lists(st.sampled_from(optional), unique=True, max_size=8)) if optional else []
    data: dict[str, pl.Series] = {}
    for col in table.columns:
        if col.name == "session_id":
            continue
        if col.name in table.primary_key:  # keys unique, as normalize requires
            values: list[object] = list(range(n)) if col.dtype.startswith("int") else [f"k{i}" for i in range(n)]
            data[col.name] = pl.Series(col.name, values, dtype=col.polars_dtype)
        elif col.required or col in chosen:
            data[col.name] = pl.Series(col.name, [draw(values_for(col)) for _ in range(n)], dtype=col.polars_dtype)
    if {"start_time", "stop_time"} <= set(data):  # intervals run forwards (NaN bounds are allowed)
        pairs = [sorted(p) if not any(v != v for v in p) else p
                 for p in zip(data["start_time"].to_list(), data["stop_time"].to_list(), strict=True)]
        data["start_time"] = pl.Series("start_time", [p[0] for p in pairs], dtype=pl.Float64)
        data["stop_time"] = pl.Series("stop_time", [p[1] for p in pairs], dtype=pl.Float64)
    if draw(st.booleans()):
        data["extra_measure"] = pl.Series("extra_measure", [draw(st.one_of(st.none(), FLOATS)) for _ in range(n)],
                                          dtype=pl.Float64)
    return pl.DataFrame(list(data.values()), height=n)


TABLE_NAMES = st.sampled_from(["trials", "electrodes", "intervals", "epochs", "events", "timeseries", "devices"])
SESSIONS = ("600001_2024-01-02", "600002_2024-01-03")


@st.composite
def bundles(draw: st.DrawFn, session_id: str, table_name: str) -> SessionBundle:
    """A session with a random frame of one table and random units with random (sorted) spike trains."""
    frame = draw(frames(table_name))
    n_units = draw(st.integers(min_value=0, max_value=3))
    unit_ids = [f"{session_id}_A-{i}" for i in range(n_units)]
    trains = [sorted(draw(st.lists(st.floats(min_value=-1e3, max_value=1e5, allow_nan=False), max_size=20)))
              for _ in unit_ids]
    tables = {
        "sessions": pl.DataFrame({"session_start_time": [draw(values_for(TABLES["sessions"].column(
            "session_start_time")))], "session_description": [draw(TEXT)]}),
        "units": pl.DataFrame({"unit_id": unit_ids, "nwb_unit_id": list(range(n_units)),
                               "snr": [draw(FLOATS) for _ in unit_ids]}, schema_overrides={"snr": pl.Float64}),
        table_name: frame,
    }
    if table_name == "electrodes":  # links must resolve: no electrode group names
        tables[table_name] = frame.with_columns(pl.lit(None, dtype=pl.String).alias("electrode_group_name"))

    def spike_batches():  # type: ignore[no-untyped-def]
        for unit, train in zip(unit_ids, trains, strict=True):
            yield pl.DataFrame({"unit_id": [unit] * len(train), "spike_time": train},
                               schema={"unit_id": pl.String, "spike_time": pl.Float64})

    return SessionBundle(session_id=session_id, source_uri=f"memory://{session_id}", tables=tables,
                         spike_batches=spike_batches)


def lake_rows(lake: Lake, table: str, session_id: str, columns: list[str]) -> pl.DataFrame:
    keys = list(TABLES[table].sort_by)
    return (lake.scan(table).filter(pl.col("session_id") == session_id).collect()
            .select(columns).sort(keys, maintain_order=True))


# no shrinking phase: every example writes Delta tables, and shrinking one takes minutes
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow],
          phases=(Phase.explicit, Phase.reuse, Phase.generate))
@given(data=st.data(), name=TABLE_NAMES)
def test_normalize_write_read_is_identity(data: st.DataObject, name: str) -> None:
    """Two sessions written, the first rewritten with other rows: each reads back exactly as conformed."""
    with tempfile.TemporaryDirectory() as folder:
        lake = Lake.open(folder)
        first, second = (normalize_session(data.draw(bundles(sid, name))) for sid in SESSIONS)
        write_session(first, lake=lake)
        write_session(second, lake=lake)
        rewritten = normalize_session(data.draw(bundles(SESSIONS[0], name)))
        write_session(rewritten, lake=lake)
        for session in (rewritten, second):
            for table in (name, "units", "sessions"):
                expected = session.frame_of(table)
                if expected.height == 0:  # a session with no rows writes nothing, so adds no extra column
                    stored_columns = lake.scan(table).collect_schema().names()
                    expected = expected.select(c for c in expected.columns if c in stored_columns)
                assert_frame_equal(lake_rows(lake, table, session.session_id, expected.columns), expected,
                                   check_exact=True)
            spikes = pl.concat([TABLES["spike_times"].polars_schema.to_frame(),
                                *(b.select(TABLES["spike_times"].column_names) for b in session.spike_batches())])
            stored = lake_rows(lake, "spike_times", session.session_id, spikes.columns)
            assert_frame_equal(stored, spikes.sort("session_id", "unit_id", "spike_time"), check_exact=True)
