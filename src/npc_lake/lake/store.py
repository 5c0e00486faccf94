"""Where the lake lives and how its Delta tables are opened.

The lake is a folder (or an ``s3://bucket/prefix``) with one Delta table per table name. This module
is, with the rest of ``lake/``, the only place that imports :mod:`deltalake`.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import random
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import polars as pl
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.fs as pafs
from deltalake import DeltaTable
from deltalake.exceptions import CommitFailedError, DeltaError, TableNotFoundError

from npc_lake.errors import LakeError, redact, storage_reason
from npc_lake.schema import get_table
from npc_lake.storage import s3_filesystem, storage_options_from_env

T = TypeVar("T")
#: Where a remote lake keeps its writer lock, and after how long a lock counts as left by a dead writer.
LOCK_PATH = "_locks/writer"
DEFAULT_LOCK_TTL_S = 120.0
DEFAULT_LAKE = "./lake"
LAKE_ENV = "NPC_LAKE_URI"


#: Attempts at a Delta commit that concurrent writers keep beating, and the first back-off (s; doubling).
COMMIT_ATTEMPTS = 10
FIRST_BACKOFF_S = 0.05


def is_commit_conflict(exc: BaseException) -> bool:
    """Whether ``exc`` is a Delta commit lost to a concurrent writer (worth retrying from a fresh read)."""
    if isinstance(exc, CommitFailedError):
        return True
    text = str(exc).lower()
    return isinstance(exc, DeltaError) and ("concurrent" in text or "commit failed" in text
                                            or "version already exists" in text)


def retry_commits(attempt: Callable[[], T], *, what: str) -> T:
    """Run ``attempt`` (which re-reads the table and commits) until it is not beaten by a concurrent commit:
    at most :data:`COMMIT_ATTEMPTS` times, with jittered exponential back-off.

    Raises
    ------
    CommitFailedError, DeltaError
        The last attempt's error when every attempt lost to concurrent commits, or at once when the error
        is not a lost race (callers turn it into a :class:`LakeError` naming the table).
    """
    for number in range(COMMIT_ATTEMPTS):
        try:
            return attempt()
        except (CommitFailedError, DeltaError) as exc:
            if not is_commit_conflict(exc) or number == COMMIT_ATTEMPTS - 1:
                raise
            time.sleep(FIRST_BACKOFF_S * 2**number * (0.5 + random.random()))
    raise LakeError(f"{what}: no attempt committed")  # pragma: no cover - the loop returns or raises


def retry_table_commits(attempt: Callable[[DeltaTable | None], DeltaTable], table: DeltaTable | None, *,
                        what: str) -> DeltaTable:
    """:func:`retry_commits` for a write through an open ``table`` (``None``: not created yet).

    ``attempt(table)`` writes and returns the table as its commit left it. Before each retry the table
    catches up with the commits that beat the last try, instead of reading its whole log again.
    """
    tries = 0

    def once() -> DeltaTable:
        nonlocal tries
        if table is not None and tries:
            table.update_incremental()
        tries += 1
        return attempt(table)

    return retry_commits(once, what=what)


def resolve_lake_uri(lake: str | os.PathLike[str] | None = None) -> str:
    """The lake URI to use: ``lake`` if given, else ``$NPC_LAKE_URI``, else ``./lake``.

    Local paths are made absolute; URIs with a scheme are returned as they are.
    """
    raw = os.fspath(lake) if lake is not None else os.environ.get(LAKE_ENV) or DEFAULT_LAKE
    if "://" in raw:
        return raw.rstrip("/")
    return str(Path(raw).expanduser().resolve())


@dataclass
class Lake:
    """A handle on one lake.

    Parameters
    ----------
    uri
        Folder or ``s3://`` URI; ``None`` means ``$NPC_LAKE_URI`` or ``./lake``.
    storage_options
        Extra delta-rs storage options (override those from the environment).
    """

    uri: str
    storage_options: dict[str, str] = field(default_factory=dict)

    @classmethod
    def open(cls, lake: str | os.PathLike[str] | Lake | None = None, *,
             storage_options: dict[str, str] | None = None) -> Lake:
        """Resolve ``lake`` (a URI, a path, ``None`` or an existing handle) to a :class:`Lake`."""
        if isinstance(lake, Lake):
            return lake
        uri = resolve_lake_uri(lake)
        return cls(uri=uri, storage_options={**storage_options_from_env(uri), **(storage_options or {})})

    @property
    def is_local(self) -> bool:
        """Whether the lake is a local folder."""
        return "://" not in self.uri or self.uri.startswith("file://")

    def arrow_filesystem(self) -> tuple[pafs.FileSystem, str]:
        """A pyarrow filesystem for the lake and the lake's root path on it (for streamed Parquet writes).

        For ``s3://`` lakes the filesystem is configured from the same storage options delta-rs gets
        (credentials, region, endpoint), so both write to the same place.
        """
        if self.is_local:
            return pafs.LocalFileSystem(), self.uri.removeprefix("file://")
        if not self.uri.startswith(("s3://", "s3a://")):
            filesystem, root = pafs.FileSystem.from_uri(self.uri)
            return filesystem, root
        return s3_filesystem(self.storage_options), self.uri.split("://", 1)[1]

    @contextmanager
    def write_lock(self) -> Iterator[None]:
        """Hold the lake's writer lock while one session's tables and its ingest-log row are committed.

        Writes are short next to reading and checking a source, so any number of ingest processes (or
        machines) read in parallel and take turns to commit. Holding the lock across a whole session keeps
        the ingest log's order the order of the commits, which is what makes every snapshot consistent.
        Local lakes use an exclusive ``flock`` on a lock file named after the lake's path in the system's
        temporary folder (released by the OS if the writer dies). Remote lakes use a lock object,
        ``_locks/writer``, created with a conditional PUT (``If-None-Match: *``: exactly one writer
        succeeds). Its holder renews it every quarter of ``$NPC_LAKE_LOCK_TTL_S`` (default 120 s); a lock
        not renewed for that long is taken to be left by a dead writer and is broken.
        """
        if not self.is_local:
            with self._remote_lock():
                yield
            return
        root = Path(self.uri.removeprefix("file://")).resolve()
        folder = Path(tempfile.gettempdir()) / "npc_lake_locks"  # outside the lake: its folder stays clean
        folder.mkdir(exist_ok=True)
        name = hashlib.sha1(str(root).encode()).hexdigest()[:20]
        with open(folder / f"{name}.lock", "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _object_store(self) -> Any:
        """An obstore store at the lake's root (the same Rust object_store delta-rs uses), for the lock."""
        from obstore.store import S3Store

        options = {key.upper(): value for key, value in self.storage_options.items()}
        config = {name: options[key] for key, name in (
            ("AWS_ACCESS_KEY_ID", "access_key_id"), ("AWS_SECRET_ACCESS_KEY", "secret_access_key"),
            ("AWS_SESSION_TOKEN", "session_token"), ("AWS_ENDPOINT_URL_S3", "endpoint"),
            ("AWS_ENDPOINT_URL", "endpoint"), ("AWS_REGION", "region"), ("AWS_DEFAULT_REGION", "region"))
            if options.get(key)}
        allow_http = str(options.get("AWS_ALLOW_HTTP", "")).lower() == "true" or str(
            config.get("endpoint", "")).startswith("http://")
        return S3Store.from_url(self.uri, config=config,  # type: ignore[arg-type]
                                client_options={"allow_http": allow_http})

    @contextmanager
    def _remote_lock(self) -> Iterator[None]:
        import obstore
        from obstore.exceptions import AlreadyExistsError, NotFoundError

        store = self._object_store()
        ttl = float(os.environ.get("NPC_LAKE_LOCK_TTL_S", DEFAULT_LOCK_TTL_S))
        owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

        def stamp() -> bytes:
            return json.dumps({"owner": owner, "renewed": time.time()}).encode()

        def holder() -> dict[str, Any] | None:
            try:
                found = json.loads(bytes(obstore.get(store, LOCK_PATH).bytes()))
            except (NotFoundError, FileNotFoundError, ValueError):  # obstore raises either when it is gone
                return None
            return found if isinstance(found, dict) else None

        wait = FIRST_BACKOFF_S
        while True:
            try:
                obstore.put(store, LOCK_PATH, stamp(), mode="create")  # If-None-Match: exactly one writer wins
                break
            except AlreadyExistsError:
                current = holder()
                if current is None:
                    continue  # released (or half-written) in between: try again at once
                if time.time() - float(current.get("renewed", 0)) > ttl:  # its writer stopped renewing: dead
                    with contextlib.suppress(NotFoundError, FileNotFoundError):
                        obstore.delete(store, LOCK_PATH)
                    continue
            except Exception as exc:  # storage failures: credentials, network
                raise LakeError(f"cannot take the writer lock of {self.uri}: {storage_reason(exc)}") from None
            time.sleep(wait * (0.5 + random.random()))
            wait = min(wait * 2, 2.0)
        done = threading.Event()

        def renew() -> None:  # while held, refresh the stamp well inside the TTL
            while not done.wait(ttl / 4):
                with contextlib.suppress(Exception):
                    if (holder() or {}).get("owner") == owner:
                        obstore.put(store, LOCK_PATH, stamp())

        renewer = threading.Thread(target=renew, name="npc-lake-lock", daemon=True)
        renewer.start()
        try:
            yield
        finally:
            done.set()
            renewer.join()
            with contextlib.suppress(Exception):
                if (holder() or {}).get("owner") == owner:
                    obstore.delete(store, LOCK_PATH)

    def table_uri(self, name: str) -> str:
        """URI of the Delta table ``name`` (the name must be declared in schema/)."""
        get_table(name)
        return f"{self.uri}/{name}"

    def delta_table(self, name: str, *, version: int | None = None) -> DeltaTable | None:
        """The Delta table ``name`` at ``version`` (latest by default), or ``None`` if it does not exist."""
        uri = self.table_uri(name)
        if self.is_local and not (Path(uri) / "_delta_log").is_dir():
            return None
        try:
            return DeltaTable(uri, version=version, storage_options=self.storage_options or None)
        except TableNotFoundError:
            return None
        except (OSError, DeltaError) as exc:
            reason = redact(storage_reason(exc), self.storage_options.values())
            raise LakeError(f"cannot open table {name} at {uri}: {reason}") from None

    def table_names(self) -> list[str]:
        """Names of the tables that exist in this lake, in schema order."""
        from npc_lake.schema import TABLES

        return [name for name in TABLES if self.delta_table(name) is not None]

    def arrow_dataset(self, name: str, *, version: int | None = None) -> pads.Dataset | None:
        """A pyarrow dataset over the live files of table ``name`` (``None`` if the table does not exist)."""
        table = self.delta_table(name, version=version)
        if table is None:
            return None
        return table.to_pyarrow_dataset()

    def scan(self, name: str, *, version: int | None = None) -> pl.LazyFrame:
        """A Polars LazyFrame over table ``name``; an empty frame of the declared schema if it does not exist."""
        table = self.delta_table(name, version=version)
        if table is None:
            return pl.LazyFrame(schema=get_table(name).polars_schema)
        return pl.scan_delta(table)

    def version(self, name: str) -> int | None:
        """Current Delta version of table ``name`` (``None`` if it does not exist)."""
        table = self.delta_table(name)
        return None if table is None else table.version()

    def file_stats(self, name: str) -> tuple[int, int | None, int | None, int]:
        """Rows, sessions (``None`` if the table is not partitioned by session), version and bytes of table
        ``name``, read from the Delta log only (no data file is opened)."""
        table = self.delta_table(name)
        if table is None:
            return 0, 0, None, 0
        actions = pl.DataFrame(pa.table(table.get_add_actions(flatten=True)))
        if actions.height and actions["num_records"].null_count() == 0:
            rows = int(actions["num_records"].sum())
        else:  # a file written without statistics: count its rows
            rows = int(self.scan(name).select(pl.len()).collect().item())
        sessions = (actions["partition.session_id"].n_unique() if "partition.session_id" in actions.columns
                    else None)
        size = int(actions["size_bytes"].sum()) if actions.height else 0
        return rows, sessions, table.version(), size
