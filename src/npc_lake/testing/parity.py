"""Parity of npc_lake's tables with the reference stack's (npc_sessions), table by table and column by column.

The reference's side is what ``oracle/reference.py`` dumps from the NWB file npc_sessions wrote: one
parquet file per NWB table or series (``trials``, ``epochs``, ``vis_rf_mapping_trials``,
``behavior.licks``, ``behavior.running_speed`` …). npc_lake's side is the same session's rows in a lake,
reshaped by :func:`lake_tables` to the reference's tables (intervals split by name, events and series by
name). :func:`compare_tables` then lists every :class:`Difference`: a reference table or column npc_lake
lacks, a different number of rows, or values that differ beyond the tolerance (times: ``time_tolerance``
seconds; other floats: relative ``float_rtol`` or absolute ``float_atol``; counts, flags and names: exact;
NaN equals null equals NaN).

A difference is *known* when ``oracle/differences.toml`` names its table and column with a reason; every
other difference fails the parity check.
"""

from __future__ import annotations

import math
import os
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import polars as pl

DifferenceKind = Literal["missing_table", "missing_column", "row_count", "values"]

#: How each reference table is found among the lake's: (lake table, filter column, filter value, column renames
#: from the lake's names to the reference's, order column).
REFERENCE_TABLES: dict[str, tuple[str, str | None, str | None, dict[str, str], str]] = {
    "trials": ("trials", None, None, {}, "start_time"),
    "epochs": ("epochs", None, None, {}, "start_time"),
    "vis_rf_mapping_trials": ("intervals", "interval_name", "VisRFMapping", {}, "start_time"),
    "aud_rf_mapping_trials": ("intervals", "interval_name", "AudRFMapping", {}, "start_time"),
    "optotagging_trials": ("intervals", "interval_name", "OptoTagging", {}, "start_time"),
    "performance": ("intervals", "interval_name", "performance", {}, "start_time"),
    "behavior.licks": ("events", "name", "licks", {"event_time": "timestamps"}, "timestamps"),
    "behavior.rewards": ("events", "name", "rewards", {"event_time": "timestamps"}, "timestamps"),
    "behavior.quiescent_interval_violations": ("events", "name", "quiescent_interval_violations",
                                               {"event_time": "timestamps"}, "timestamps"),
    "behavior.running_speed": ("timeseries", "name", "running_speed",
                               {"sample_time": "timestamps", "value": "data"}, "timestamps"),
}
#: Columns of the reference's dump that are bookkeeping, not data (the NWB row id).
IGNORED_COLUMNS = frozenset({"id"})


@dataclass(frozen=True)
class Difference:
    """One way npc_lake's table differs from the reference's."""

    table: str
    column: str | None
    kind: DifferenceKind
    detail: str
    max_abs: float | None = None
    n_rows: int = 0

    @property
    def key(self) -> tuple[str, str]:
        return (self.table, self.column or "*")


@dataclass(frozen=True)
class KnownDifference:
    """A difference the project keeps on purpose (or has not resolved yet), with the reason."""

    table: str
    column: str
    reason: str


@dataclass(frozen=True)
class TableParity:
    """The comparison of one table: rows on each side, columns compared, what differs."""

    table: str
    reference_rows: int
    lake_rows: int
    columns_compared: int
    differences: tuple[Difference, ...]
    extra_columns: tuple[str, ...] = ()


def read_reference_dump(folder: str | os.PathLike[str]) -> dict[str, pl.DataFrame]:
    """The tables ``oracle/reference.py`` dumped into ``folder/tables``."""
    tables = Path(folder) / "tables"
    return {path.stem: pl.read_parquet(path) for path in sorted(tables.glob("*.parquet"))}


def read_known_differences(path: str | os.PathLike[str]) -> list[KnownDifference]:
    """The named, justified differences of a TOML file (``[[difference]]`` with table, column, reason)."""
    with open(path, "rb") as file:
        entries = tomllib.load(file).get("difference", [])
    return [KnownDifference(table=e["table"], column=e.get("column", "*"), reason=e["reason"]) for e in entries]


def lake_tables(lake_frames: Mapping[str, pl.DataFrame], *, session_id: str) -> dict[str, pl.DataFrame]:
    """One session's lake rows, shaped as the reference's tables (see :data:`REFERENCE_TABLES`).

    Parameters
    ----------
    lake_frames
        Lake table name to its rows (any number of sessions).
    session_id
        The session to take.
    """
    out = {}
    for name, (table, by, value, renames, _) in REFERENCE_TABLES.items():
        frame = lake_frames.get(table)
        if frame is None:
            continue
        frame = frame.filter(pl.col("session_id") == session_id)
        if by is not None:
            frame = frame.filter(pl.col(by) == value)
        if table == "timeseries":
            frame = frame.filter(pl.col("channel").fill_null(0) == 0)
        if frame.height:
            out[name] = frame.rename({k: v for k, v in renames.items() if k in frame.columns})
    return out


def compare_tables(reference: Mapping[str, pl.DataFrame], ours: Mapping[str, pl.DataFrame], *,
                   time_tolerance: float = 1e-4, float_rtol: float = 1e-9,
                   float_atol: float = 1e-9) -> list[TableParity]:
    """Compare every reference table with npc_lake's table of the same name.

    Parameters
    ----------
    reference, ours
        Table name to rows (:func:`read_reference_dump`, :func:`lake_tables`).
    time_tolerance
        Largest allowed difference of a time (``*_time`` and ``timestamps`` columns), in seconds.
    float_rtol, float_atol
        Largest allowed relative difference of other floats, and the absolute difference always allowed
        (the last bits of two libraries' arithmetic on values near 0).

    Returns
    -------
    list of TableParity
        One per reference table, in name order.
    """
    results = []
    for name in sorted(reference):
        ref = reference[name]
        mine = ours.get(name)
        columns = [c for c in ref.columns if c not in IGNORED_COLUMNS]
        if mine is None:
            results.append(TableParity(name, ref.height, 0, 0, (Difference(
                name, None, "missing_table", "npc_lake has no rows for this table", n_rows=ref.height),)))
            continue
        differences: list[Difference] = []
        if ref.height != mine.height:
            differences.append(Difference(name, None, "row_count", f"reference {ref.height} rows, npc_lake "
                                          f"{mine.height}", n_rows=abs(ref.height - mine.height)))
        order = REFERENCE_TABLES.get(name, ("", None, None, {}, "start_time"))[4]
        ref_sorted = ref.sort(order) if order in ref.columns else ref
        mine_sorted = mine.sort(order) if order in mine.columns else mine
        n = min(ref.height, mine.height)
        compared = 0
        for column in columns:
            if column not in mine.columns:
                differences.append(Difference(name, column, "missing_column", "not in npc_lake's table"))
                continue
            compared += 1
            difference = _compare_column(name, column, ref_sorted[column][:n], mine_sorted[column][:n],
                                         time_tolerance=time_tolerance, float_rtol=float_rtol,
                                         float_atol=float_atol)
            if difference is not None:
                differences.append(difference)
        extra = tuple(sorted(set(mine.columns) - set(ref.columns) - {"session_id"}))
        results.append(TableParity(name, ref.height, mine.height, compared, tuple(differences), extra))
    return results


def _is_time(column: str) -> bool:
    return column.endswith("_time") or column == "timestamps"


def _compare_column(table: str, column: str, ref: pl.Series, mine: pl.Series, *, time_tolerance: float,
                    float_rtol: float, float_atol: float) -> Difference | None:
    numeric = ref.dtype.is_numeric() and (mine.dtype.is_numeric() or mine.dtype == pl.Boolean)
    if ref.dtype == pl.Boolean or mine.dtype == pl.Boolean:
        numeric = False
    if numeric:
        a = ref.cast(pl.Float64).fill_null(math.nan).to_numpy()
        b = mine.cast(pl.Float64).fill_null(math.nan).to_numpy()
        both_nan = np.isnan(a) & np.isnan(b)
        one_nan = np.isnan(a) ^ np.isnan(b)
        delta = np.where(both_nan | one_nan, 0.0, np.abs(a - b))
        limit = (time_tolerance if _is_time(column)
                 else np.maximum(float_rtol * np.maximum(np.abs(a), np.abs(b)), float_atol))
        if ref.dtype.is_integer() and mine.dtype.is_integer():
            limit = np.zeros_like(delta)
        bad = one_nan | (delta > limit)
        if not bad.any():
            return None
        worst = float(delta[~one_nan].max()) if (~one_nan).any() else None
        return Difference(table, column, "values", f"{int(bad.sum())} of {a.size} rows differ"
                          f"{f' (one side NaN in {int(one_nan.sum())})' if one_nan.any() else ''}",
                          max_abs=worst, n_rows=int(bad.sum()))
    a_text = ref.cast(pl.String).fill_null("").to_list()
    b_text = mine.cast(pl.String).fill_null("").to_list()
    bad_rows = [i for i, (x, y) in enumerate(zip(a_text, b_text, strict=True)) if _norm(x) != _norm(y)]
    if not bad_rows:
        return None
    first = bad_rows[0]
    return Difference(table, column, "values", f"{len(bad_rows)} of {len(a_text)} rows differ (first: row "
                      f"{first}, reference {a_text[first]!r}, npc_lake {b_text[first]!r})", n_rows=len(bad_rows))


def _norm(text: str) -> str:
    lowered = text.strip().lower()
    return {"1": "true", "0": "false", "nan": ""}.get(lowered, lowered)


def unexplained(results: Sequence[TableParity], known: Sequence[KnownDifference]) -> list[Difference]:
    """The differences no known difference names (by table and column; column ``*`` names them all)."""
    names = {(k.table, k.column) for k in known}
    return [d for r in results for d in r.differences
            if d.key not in names and (d.table, "*") not in names]


def format_report(results: Sequence[TableParity], known: Sequence[KnownDifference], *, title: str) -> str:
    """A plain-text report: a line per table, then every difference marked KNOWN (with its reason) or FAIL."""
    reasons = {(k.table, k.column): k.reason for k in known}
    lines = [title, "", f"{'table':42} {'ref rows':>8} {'lake rows':>9} {'columns':>7} {'differences':>11}"]
    for r in results:
        lines.append(f"{r.table:42} {r.reference_rows:>8} {r.lake_rows:>9} {r.columns_compared:>7} "
                     f"{len(r.differences):>11}")
    for r in results:
        for d in r.differences:
            reason = reasons.get(d.key) or reasons.get((d.table, "*"))
            mark = "KNOWN" if reason else "FAIL "
            size = f" max |diff| {d.max_abs:.3g}" if d.max_abs is not None else ""
            lines.append(f"{mark} {d.table}.{d.column or '*'} [{d.kind}] {d.detail}{size}")
            if reason:
                lines.append(f"        reason: {reason}")
    return "\n".join(lines)


__all__ = ["REFERENCE_TABLES", "Difference", "KnownDifference", "TableParity", "compare_tables",
           "format_report", "lake_tables", "read_known_differences", "read_reference_dump", "unexplained"]
