"""Source files on S3 (or any S3-compatible store), read in ranges without downloading them whole.

HDF5 readers ask for many small pieces at scattered offsets. :class:`RangeReader` is a read-only,
seekable file object over an S3 object that fetches aligned blocks (:data:`BLOCK_BYTES`) with ranged GETs
and keeps the most recent ones (:data:`CACHED_BLOCKS`), so metadata lookups cost a few requests and
large datasets stream. Credentials and endpoint come from the same ``AWS_*`` variables as the lake.
"""

from __future__ import annotations

import fnmatch
import hashlib
import io
import posixpath
from collections import OrderedDict
from typing import Any

import pyarrow.fs as pafs

from npc_lake.errors import SourceError
from npc_lake.storage import s3_filesystem, storage_options_from_env

#: Bytes fetched per ranged request, and how many such blocks stay cached per open file.
BLOCK_BYTES = 4 * 1024 * 1024
CACHED_BLOCKS = 32
_SCHEMES = ("s3://", "s3a://")


def is_remote(uri: str) -> bool:
    """Whether ``uri`` names an object in an S3-compatible store."""
    return uri.startswith(_SCHEMES)


def _filesystem() -> pafs.S3FileSystem:
    return s3_filesystem(storage_options_from_env("s3://"))


def _path(uri: str) -> str:
    return uri.split("://", 1)[1]


def _reason(exc: BaseException) -> str:
    """An error's message without anything that could carry a credential (query strings, headers)."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text.split("?", 1)[0][:300]


def remote_info(uri: str) -> pafs.FileInfo:
    """Size and modification time of an S3 object.

    Raises
    ------
    SourceError
        The object does not exist or cannot be reached.
    """
    try:
        info = _filesystem().get_file_info(_path(uri))
    except OSError as exc:
        raise SourceError(uri, f"cannot reach the object: {_reason(exc)}") from None
    if info.type != pafs.FileType.File:
        raise SourceError(uri, "no such object")
    return info


def remote_digest(uri: str) -> str:
    """blake2b digest of an S3 object's identity: its URI, size and modification time (not its bytes,
    which would mean downloading it)."""
    info = remote_info(uri)
    mtime = info.mtime_ns if info.mtime_ns is not None else 0
    return hashlib.blake2b(f"{uri}\0{info.size}\0{mtime}".encode(), digest_size=20).hexdigest()


def expand_remote(pattern: str) -> list[str]:
    """The objects an ``s3://bucket/prefix/*.nwb`` pattern names (the pattern itself when it has no
    wildcard), sorted."""
    if not any(ch in pattern for ch in "*?["):
        return [pattern]
    scheme = pattern.split("://", 1)[0]
    path = _path(pattern)
    base = path[: min(path.index(ch) for ch in "*?[" if ch in path)].rsplit("/", 1)[0]
    try:
        infos = _filesystem().get_file_info(pafs.FileSelector(base, recursive=True, allow_not_found=True))
    except OSError as exc:
        raise SourceError(pattern, f"cannot list objects: {_reason(exc)}") from None
    matches = [info.path for info in infos if info.type == pafs.FileType.File and fnmatch.fnmatchcase(info.path, path)]
    return [f"{scheme}://{m}" for m in sorted(matches)]


class RangeReader(io.RawIOBase):
    """A seekable, read-only file over one S3 object, fetched in cached blocks on demand."""

    def __init__(self, uri: str) -> None:
        super().__init__()
        self.uri = uri
        self.name = posixpath.basename(_path(uri))
        try:
            self._file = _filesystem().open_input_file(_path(uri))
            self._size = self._file.size()
        except OSError as exc:
            raise SourceError(uri, f"cannot open the object: {_reason(exc)}") from None
        self._position = 0
        self._blocks: OrderedDict[int, bytes] = OrderedDict()
        self.requests = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def _block(self, index: int) -> bytes:
        block = self._blocks.get(index)
        if block is None:
            try:
                block = self._file.read_at(min(BLOCK_BYTES, self._size - index * BLOCK_BYTES), index * BLOCK_BYTES)
            except OSError as exc:
                raise SourceError(self.uri, f"ranged read failed: {_reason(exc)}") from None
            self.requests += 1
            self._blocks[index] = block
            if len(self._blocks) > CACHED_BLOCKS:
                self._blocks.popitem(last=False)
        else:
            self._blocks.move_to_end(index)
        return block

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        wanted = min(len(view), max(0, self._size - self._position))
        done = 0
        while done < wanted:
            index, offset = divmod(self._position + done, BLOCK_BYTES)
            block = self._block(index)
            piece = block[offset: offset + wanted - done]
            view[done: done + len(piece)] = piece
            done += len(piece)
        self._position += done
        return done

    def close(self) -> None:
        if not self.closed:
            self._file.close()
            self._blocks.clear()
        super().close()
