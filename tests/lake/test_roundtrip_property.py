"""Property: conform → write → read gives back exactly the conformed rows (values, dtypes, nulls, NaN)."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from npc_lake.lake import Lake
from npc_lake.lake.write import _align, _stored_schema, _write
from npc_lake.normalize import conform
from npc_lake.schema import TABLES, Column

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
        if col.required or col.name in table.primary_key:
            if (col.dtype == "int64" and col.name.endswith("_index")) or col.name == "electrode_id":
                data[col.name] = pl.Series(col.name, list(range(n)), dtype=col.polars_dtype)
                continue
            if col.name == "unit_id":
                data[col.name] = pl.Series(col.name, [f"u{i}" for i in range(n)], dtype=pl.String)
                continue
        if col.required or col.name in table.primary_key or col in chosen:
            data[col.name] = pl.Series(col.name, [draw(values_for(col)) for _ in range(n)], dtype=col.polars_dtype)
    if draw(st.booleans()):
        data["extra_measure"] = pl.Series("extra_measure", [draw(st.one_of(st.none(), FLOATS)) for _ in range(n)],
                                          dtype=pl.Float64)
    return pl.DataFrame(list(data.values()), height=n)


TABLE_NAMES = st.sampled_from(["trials", "units", "electrodes", "intervals", "sessions", "epochs", "events"])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), name=TABLE_NAMES)
def test_conform_write_read_is_identity(data: st.DataObject, name: str) -> None:
    table = TABLES[name]
    frame = data.draw(frames(name))
    if name == "sessions":
        frame = frame.head(1)
    with tempfile.TemporaryDirectory() as folder:
        lake = Lake.open(folder)
        for session_id in ("600001_2024-01-02", "600002_2024-01-03"):
            conformed = conform(frame, table, session_id=session_id)
            aligned = _align(conformed, _stored_schema(lake, table), table, session_id)
            _write(lake, table, aligned.to_arrow(), session_id=session_id)
        back = lake.scan(name).filter(pl.col("session_id") == "600002_2024-01-03").collect()
        back = back.select(conformed.columns).sort(list(table.sort_by), maintain_order=True)
        assert_frame_equal(back, conformed, check_exact=True)
