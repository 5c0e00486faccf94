"""The lake's own tables: the ingest log and the descriptions of columns found in sources."""

from __future__ import annotations

from npc_lake.schema.model import Column, Table
from npc_lake.schema.trials import SESSION_ID

INGEST_LOG = Table(
    name="ingest_log",
    description=(
        "One row per ingest of a session, appended after the session's tables were written: "
        "what was read, with which npc_lake, and which version of each table holds the result."
    ),
    primary_key=("ingest_id",),
    partition_by=(),
    sort_by=("ingested_at",),
    closed=True,
    per_session=False,
    columns=(
        Column("ingest_id", "str", "Unique id of this ingest (a UUID4).", required=True),
        SESSION_ID,
        Column("source_uri", "str", "File or folder the session was read from."),
        Column("source_hash", "str", "blake2b digest of the source's bytes."),
        Column("npc_lake_version", "str", "Version of npc_lake that ran the ingest.", required=True),
        Column("schema_version", "int32", "Version of the lake's table declarations.", required=True),
        Column("ingested_at", "datetime", "When the ingest finished, in UTC.", required=True),
        Column("action", "str", "'written' (some table changed) or 'unchanged' (nothing was written).",
               required=True),
        Column("table_names", "list[str]", "Tables of the session, in the order of the lists that follow."),
        Column("table_versions", "list[int64]", "Delta version of each table after the ingest."),
        Column("content_hashes", "list[str]", "Digest of the session's rows in each table."),
        Column("row_counts", "list[int64]", "Number of the session's rows in each table."),
        Column("file_digests", "list[str]", "Digest of the paths of the session's data files in each table after "
               "the ingest. Files that changed since (a writer killed between two tables' commits) make the next "
               "ingest rewrite the table even when its content digest matches."),
        Column("skipped", "list[str]", "What the source held but the ingest left out, one '<what>: <reason>' "
               "entry each (a probe without sorted output, a task file no vsync block matches, …)."),
    ),
)

COLUMN_DESCRIPTIONS = Table(
    name="column_descriptions",
    description=(
        "Descriptions that a source gave to its tables and columns, where they differ from what schema/ "
        "declares (a custom trials column, a third-party intervals table, a file's own wording); the NWB "
        "export writes them back."
    ),
    primary_key=("session_id", "table_name", "source_name", "column_name"),
    sort_by=("session_id", "table_name", "source_name", "column_name"),
    closed=True,
    columns=(
        SESSION_ID,
        Column("table_name", "str", "Lake table holding the column.", required=True),
        Column("source_name", "str", "Name of the table in the source (e.g. the NWB TimeIntervals name).",
               required=True),
        Column("column_name", "str", "Column name; '' for the description of the table itself.", required=True),
        Column("description", "str", "The description the source gave."),
    ),
)

TAGS = Table(
    name="tags",
    description=(
        "Named snapshots of the whole lake: a tag names one version of the ingest log, and through it the "
        "version of every table at that point (see `npc-lake tag`)."
    ),
    primary_key=("tag",),
    partition_by=(),
    sort_by=("created_at",),
    closed=True,
    per_session=False,
    columns=(
        Column("tag", "str", "Name of the snapshot (letters, digits, '.', '_', '-').", required=True),
        Column("log_version", "int64", "Delta version of the ingest_log table the tag names.", required=True),
        Column("message", "str", "What the snapshot is for."),
        Column("created_at", "datetime", "When the tag was made, in UTC.", required=True),
        Column("created_by", "str", "Who made it (user@host)."),
    ),
)

INGEST_RUNS = Table(
    name="ingest_runs",
    description=(
        "One row per attempt of an ingest job and one per outcome: a source 'started' on a worker, then "
        "'ok' (written), 'unchanged' (nothing new) or 'failed' (with the error). A source that never got "
        "a session id (a corrupt file) is recorded here too, which is why this is not the ingest log: that "
        "one holds written sessions only and anchors snapshots."
    ),
    primary_key=("run_id", "source_uri", "attempt", "status"),
    partition_by=(),
    sort_by=("recorded_at",),
    closed=True,
    per_session=False,
    columns=(
        Column("run_id", "str", "The ingest command (or job file run) the attempt belongs to (a UUID4).",
               required=True),
        Column("source_uri", "str", "File, store or folder the job reads.", required=True),
        Column("session_id", "str", "Session the source became (null until known, or if it never was)."),
        Column("status", "str", "'started', 'ok', 'unchanged' or 'failed'.", required=True),
        Column("attempt", "int32", "Attempt number within the run, from 1 (a retry or a lost worker adds one).",
               required=True),
        Column("error_class", "str", "Class of the error that failed the job (e.g. SourceError)."),
        Column("error_message", "str", "Why the job failed, naming the file (credentials removed)."),
        Column("transient", "bool", "Whether the error was one a retry may cure (throttling, a lost worker)."),
        Column("duration_s", "float64", "Wall time of the attempt so far.", unit="s"),
        Column("worker", "str", "Where the attempt ran: a Dask worker address, or host:pid."),
        Column("ingest_id", "str", "The ingest_log row an 'ok' attempt wrote."),
        Column("spike_rows", "int64", "spike_times rows the attempt wrote."),
        Column("recorded_at", "datetime", "When the row was written, in UTC.", required=True),
    ),
)
