"""The parity comparator: what it calls a difference, and what a known difference excuses."""

from __future__ import annotations

import math
from pathlib import Path

import polars as pl

from npc_lake.testing.parity import (
    KnownDifference,
    compare_tables,
    format_report,
    lake_tables,
    read_known_differences,
    unexplained,
)

REFERENCE = {
    "trials": pl.DataFrame({"id": [0, 1, 2], "start_time": [1.0, 2.0, 3.0], "stim_start_time": [1.5, 2.5, math.nan],
                            "stim_name": ["vis1", "sound1", "catch"], "is_hit": [True, False, False],
                            "block_index": [0, 0, 1]}),
    "behavior.licks": pl.DataFrame({"id": [0, 1], "timestamps": [1.6, 2.7]}),
}


def _ours(**changes: list[object]) -> dict[str, pl.DataFrame]:
    trials = REFERENCE["trials"].drop("id").with_columns(pl.lit("s").alias("session_id"))
    for column, values in changes.items():
        trials = trials.with_columns(pl.Series(column, values))
    return {"trials": trials, "behavior.licks": pl.DataFrame({"timestamps": [1.6, 2.7]})}


def test_equal_tables_have_no_difference_and_nan_equals_null() -> None:
    ours = _ours(stim_start_time=[1.5, 2.5, None])
    results = compare_tables(REFERENCE, ours)
    assert [r.differences for r in results] == [(), ()]
    assert {r.table: r.columns_compared for r in results} == {"trials": 5, "behavior.licks": 1}


def test_times_within_tolerance_pass_and_beyond_fail() -> None:
    near = compare_tables(REFERENCE, _ours(stim_start_time=[1.5 + 5e-5, 2.5, math.nan]))
    assert all(not r.differences for r in near)
    far = compare_tables(REFERENCE, _ours(stim_start_time=[1.5 + 2e-4, 2.5, math.nan]))
    (difference,) = far[1].differences
    assert (difference.column, difference.kind, difference.n_rows) == ("stim_start_time", "values", 1)
    assert abs(difference.max_abs - 2e-4) < 1e-9  # type: ignore[operator]


def test_flags_names_counts_and_one_sided_nan_are_exact() -> None:
    results = compare_tables(REFERENCE, _ours(is_hit=[True, True, False], stim_name=["vis1", "sound2", "catch"],
                                              block_index=[0, 1, 1], stim_start_time=[1.5, math.nan, math.nan]))
    found = {d.column: d for d in results[1].differences}
    assert set(found) == {"is_hit", "stim_name", "block_index", "stim_start_time"}
    assert "'sound1'" in found["stim_name"].detail and "one side NaN" in found["stim_start_time"].detail


def test_missing_tables_columns_and_rows_are_differences() -> None:
    ours = _ours()
    ours["trials"] = ours["trials"].drop("is_hit").head(2)
    del ours["behavior.licks"]
    results = {r.table: r for r in compare_tables(REFERENCE, ours)}
    kinds = {(d.column, d.kind) for d in results["trials"].differences}
    assert kinds == {(None, "row_count"), ("is_hit", "missing_column")}
    assert [d.kind for d in results["behavior.licks"].differences] == ["missing_table"]


def test_known_differences_excuse_only_what_they_name(tmp_path: Path) -> None:
    path = tmp_path / "differences.toml"
    path.write_text('[[difference]]\ntable = "trials"\ncolumn = "is_hit"\nreason = "the reference counts it '
                    'differently"\n\n[[difference]]\ntable = "behavior.licks"\nreason = "not read yet"\n')
    known = read_known_differences(path)
    assert known == [KnownDifference("trials", "is_hit", "the reference counts it differently"),
                     KnownDifference("behavior.licks", "*", "not read yet")]
    ours = _ours(is_hit=[False, False, False], block_index=[0, 0, 0])
    del ours["behavior.licks"]
    results = compare_tables(REFERENCE, ours)
    assert [(d.table, d.column) for d in unexplained(results, known)] == [("trials", "block_index")]
    report = format_report(results, known, title="t")
    assert "KNOWN trials.is_hit" in report and "reason: the reference counts it differently" in report
    assert "FAIL  trials.block_index" in report


def test_lake_tables_split_intervals_events_and_series_by_name() -> None:
    frames = {
        "intervals": pl.DataFrame({"session_id": ["a", "a", "b"], "interval_name": ["VisRFMapping", "performance",
                                                                                   "VisRFMapping"],
                                   "start_time": [1.0, 2.0, 3.0]}),
        "events": pl.DataFrame({"session_id": ["a", "a"], "name": ["licks", "rewards"], "event_time": [1.0, 2.0]}),
        "timeseries": pl.DataFrame({"session_id": ["a", "a"], "name": ["running_speed"] * 2, "channel": [0, 1],
                                    "sample_time": [0.5, 0.5], "value": [3.0, 4.0]}),
    }
    tables = lake_tables(frames, session_id="a")
    assert sorted(tables) == ["behavior.licks", "behavior.rewards", "behavior.running_speed", "performance",
                              "vis_rf_mapping_trials"]
    assert tables["behavior.licks"]["timestamps"].to_list() == [1.0]
    assert tables["behavior.running_speed"].select("timestamps", "data").rows() == [(0.5, 3.0)]
