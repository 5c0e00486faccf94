"""What the command line prints: progress bars, tables, query results. No business logic here."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table as RichTable

from npc_lake.errors import NpcLakeError, plain_message

if TYPE_CHECKING:
    from npc_lake.distributed.jobs import JobResult

console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def ingest_with_progress(sources: list[str], *, lake: str | None, force: bool = False,
                         sort_spikes: bool = False, replace: bool = False, source_format: str = "auto",
                         jobs: int = 1, executor: str | None = None, scheduler: str | None = None,
                         max_attempts: int = 3) -> list[JobResult]:
    """Ingest ``sources`` on an executor with a live progress bar, one line per source and a summary table.

    ``executor`` defaults to ``"inprocess"`` for one job at a time and ``"process"`` for more.

    Returns
    -------
    list of JobResult
        The sources that failed (the others are in the lake).
    """
    from npc_lake.distributed.executors import make_executor
    from npc_lake.distributed.run import expand_sources, ingest_sources
    from npc_lake.lake import Lake

    handle = Lake.open(lake)
    try:
        sources = expand_sources(sources)
    except NpcLakeError as exc:
        err_console.print(f"[red]failed[/] {escape(plain_message(exc))}")
        raise SystemExit(1) from None
    runner = make_executor(executor or ("inprocess" if jobs == 1 else "process"), workers=jobs, scheduler=scheduler)
    results: list[JobResult] = []
    started = time.monotonic()
    columns = (TextColumn("[bold]ingest[/]"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("{task.description}"))
    with Progress(*columns, console=err_console, transient=True) as progress:
        task = progress.add_task("", total=len(sources))

        def describe() -> str:
            failed = sum(r.failed for r in results)
            running = min(runner.workers, len(sources) - len(results))
            rate = sum(r.spike_rows for r in results) / max(time.monotonic() - started, 1e-9)
            return f"{len(results) - failed} done, {failed} failed, {running} running, {rate / 1e6:,.2f} M spikes/s"

        def report(result: JobResult) -> None:
            results.append(result)
            if result.failed:
                progress.console.print(f"[red]failed[/] {escape(result.error_message or '')}")
            else:
                progress.console.print(escape(result.summary or ""))
            progress.update(task, advance=1, description=describe())

        progress.update(task, description=describe())
        with runner:
            ingest_sources(sources, lake=handle.uri, executor=runner, max_attempts=max_attempts, on_result=report,
                           force=force, sort_spikes=sort_spikes, replace=replace, source_format=source_format)
    print_results(results)
    failures = [r for r in results if r.failed]
    err_console.print(f"{len(results) - len(failures)} of {len(sources)} sources ingested into {handle.uri}"
                      + (f"; {len(failures)} failed" if failures else ""))
    return failures


def print_results(results: list[JobResult]) -> None:
    """A table of how each job ended (on stderr, after the progress bar)."""
    if len(results) < 2:
        return
    out = RichTable(title="ingest summary")
    for column in ("source", "session", "status", "attempts", "seconds", "worker", "reason"):
        out.add_column(column, justify="right" if column in ("attempts", "seconds") else "left")
    for r in sorted(results, key=lambda r: r.source_uri):
        status = f"[red]{r.status}[/]" if r.failed else r.status
        out.add_row(escape(Path(r.source_uri).name), r.session_id or "", status, str(r.attempt),
                    f"{r.duration_s:.1f}", escape(r.worker), escape(r.error_message or ""))
    err_console.print(out)


def print_status(*, lake: str | None, failed_only: bool = False, fmt: str = "table") -> int:
    """Print every source's latest state (``fmt``: table, csv or json); returns how many failed."""
    from npc_lake.distributed.status import ingest_status

    frame = ingest_status(lake)
    failed = int((frame["status"] == "failed").sum()) if frame.height else 0
    if failed_only:
        frame = frame.filter(pl.col("status") == "failed")
    write_frame(frame, fmt=fmt)
    return failed


def _to_json_text(value: object) -> str:
    return json.dumps(value.to_list() if isinstance(value, pl.Series) else value, default=str, ensure_ascii=False)


def _text_safe(frame: pl.DataFrame, *, nested: bool) -> pl.DataFrame:
    """Binary columns as hex text; with ``nested``, list/struct columns as JSON text (for CSV)."""
    columns = []
    for name, dtype in frame.schema.items():
        if dtype == pl.Binary:
            columns.append(pl.col(name).bin.encode("hex"))
        elif nested and dtype.is_nested():
            columns.append(pl.col(name).map_elements(_to_json_text, return_dtype=pl.String))
    return frame.with_columns(columns) if columns else frame


def write_frame(frame: pl.DataFrame, *, fmt: str, output: Path | None = None) -> None:
    """Print or save a query result as a table, CSV, JSON (one array of objects) or Parquet."""
    if fmt == "parquet":
        if output is None and sys.stdout.isatty():
            raise NpcLakeError("parquet output is binary: pass -o FILE or redirect stdout")
        frame.write_parquet(output if output is not None else sys.stdout.buffer)
        return
    if fmt == "csv":
        text = _text_safe(frame, nested=True).write_csv()
    elif fmt == "json":
        text = _text_safe(frame, nested=False).write_json()
    else:
        with pl.Config(tbl_rows=max(frame.height, 1), tbl_cols=-1, fmt_str_lengths=80, tbl_width_chars=200,
                       tbl_hide_dataframe_shape=True):
            text = f"{frame}\n({frame.height:,} rows)"
    if output is not None:
        output.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")


def print_tables(*, lake: str | None) -> None:
    """Print each lake table with rows, sessions, Delta version and size (from the Delta logs alone)."""
    from npc_lake.lake import Lake

    handle = Lake.open(lake)
    out = RichTable(title=f"tables in {handle.uri}")
    for column in ("table", "rows", "sessions", "version", "size"):
        out.add_column(column, justify="left" if column == "table" else "right")
    for name in handle.table_names():
        rows, sessions, version, size = handle.file_stats(name)
        out.add_row(name, f"{rows:,}", "" if sessions is None else f"{sessions:,}", str(version),
                    f"{size / 1e6:,.1f} MB")
    console.print(out)


def print_describe(table: str, *, lake: str | None) -> None:
    """Print the declared columns of ``table`` and the extra columns the lake holds."""
    from npc_lake.lake import Lake
    from npc_lake.schema import format_dtype, get_table

    declared = get_table(table)
    handle = Lake.open(lake)
    out = RichTable(title=f"{declared.name}: {declared.description}")
    for column in ("column", "dtype", "unit", "description"):
        out.add_column(column)
    for col in declared.columns:
        key = " (key)" if col.name in declared.primary_key else ""
        out.add_row(col.name + key, col.dtype, col.unit or "", col.description)
    stored = handle.scan(table).collect_schema()
    extras = [name for name in stored.names() if not declared.has_column(name)]
    descriptions = _extra_descriptions(handle, table, extras)
    for name in extras:
        out.add_row(f"{name} (extra)", format_dtype(stored[name]), "", descriptions.get(name, ""))
    console.print(out)
    console.print(f"primary key: {', '.join(declared.primary_key)}; "
                  f"partitioned by: {', '.join(declared.partition_by) or 'nothing'}")


def _extra_descriptions(handle: object, table: str, extras: list[str]) -> dict[str, str]:
    from npc_lake.lake import Lake

    assert isinstance(handle, Lake)
    if not extras:
        return {}
    rows = (handle.scan("column_descriptions")
            .filter(pl.col("table_name") == table, pl.col("column_name").is_in(extras),
                    pl.col("description").is_not_null() & (pl.col("description") != ""))
            .group_by("column_name").agg(pl.col("description").first()).collect())
    return dict(zip(rows["column_name"].to_list(), rows["description"].to_list(), strict=True))


def print_sessions(*, lake: str | None) -> None:
    """Print one line per session: subject, start, trials, units, spikes, source."""
    from npc_lake.query.duckdb import run_sql
    from npc_lake.query.sqlfiles import read_sql

    frame = run_sql(read_sql("sessions_overview.sql"), lake=lake)
    write_frame(frame, fmt="table")


def print_validation(path: Path, *, show_all: bool = False) -> bool:
    """Print nwbinspector's findings for ``path`` by importance; return whether the file is ok for DANDI."""
    from npc_lake.export.validate import validate_nwb

    report = validate_nwb(path)
    shown = [f for f in report.findings if show_all or f.importance != "BEST_PRACTICE_SUGGESTION"]
    for finding in shown:
        style = "red" if finding.importance in ("ERROR", "PYNWB_VALIDATION", "CRITICAL") else "yellow"
        console.print(f"[{style}]{finding.importance}[/] {escape(finding.check)} ({escape(finding.location)}): "
                      f"{escape(finding.message.strip().splitlines()[0] if finding.message.strip() else '')}")
    console.print(escape(report.summary()))
    return report.ok


def print_log(*, lake: str | None, session_id: str | None = None, fmt: str = "table") -> None:
    """Print the ingest log (one row per ingest, oldest first) with the log version each row landed in,
    then the tags."""
    from npc_lake.lake import Lake
    from npc_lake.lake.snapshots import list_tags

    handle = Lake.open(lake)
    table = handle.delta_table("ingest_log")
    if table is None:
        err_console.print(f"{handle.uri}: nothing ingested yet")
        return
    log = handle.scan("ingest_log").collect()
    if session_id is not None:
        log = log.filter(pl.col("session_id") == session_id)
    latest = handle.version("ingest_log")
    frame = (log.sort("ingested_at")
             .with_columns(pl.col("table_names").list.len().alias("tables"),
                           pl.col("skipped").list.len().alias("n_skipped") if "skipped" in log.columns
                           else pl.lit(0).alias("n_skipped"),
                           pl.col("row_counts").list.sum().alias("rows"))
             .select("ingested_at", "session_id", "action", "rows", "n_skipped", "source_uri",
                     pl.col("source_hash").str.slice(0, 12), "npc_lake_version"))
    write_frame(frame, fmt=fmt)
    tags = list_tags(handle)
    if tags.height and fmt == "table":
        console.print(f"tags (the latest ingest-log version is {latest}):")
        write_frame(tags.select("tag", "log_version", "created_at", "created_by", "message"), fmt="table")
