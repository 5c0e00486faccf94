"""The lake: Delta tables under one root. The only package that imports deltalake."""

from npc_lake.lake.log import IngestRecord, ingest_of_source, last_ingest, read_log
from npc_lake.lake.store import Lake, resolve_lake_uri
from npc_lake.lake.write import WriteResult, write_session

__all__ = ["IngestRecord", "Lake", "WriteResult", "ingest_of_source", "last_ingest", "read_log",
           "resolve_lake_uri", "write_session"]
