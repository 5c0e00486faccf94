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


def s3_location(uri: str) -> tuple[pafs.S3FileSystem, str]:
    """The S3 filesystem (from the ``AWS_*`` variables) and the ``bucket/key`` path of ``uri``."""
    return _filesystem(), _path(uri).rstrip("/")


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


def _list(uri: str, base: str) -> list[pafs.FileInfo]:
    try:
        return list(_filesystem().get_file_info(pafs.FileSelector(base, recursive=True, allow_not_found=True)))
    except OSError as exc:
        raise SourceError(uri, f"cannot list objects: {_reason(exc)}") from None


def is_remote_zarr(uri: str) -> bool:
    """Whether ``uri`` is the prefix of a Zarr store (it holds a ``.zgroup`` object) rather than an object."""
    try:
        info = _filesystem().get_file_info(f"{_path(uri).rstrip('/')}/.zgroup")
    except OSError as exc:
        raise SourceError(uri, f"cannot reach the store: {_reason(exc)}") from None
    return bool(info.type == pafs.FileType.File)


def remote_digest(uri: str) -> str:
    """blake2b digest of an S3 object's identity: its URI, size and modification time (not its bytes,
    which would mean downloading it). For a Zarr store, the same of every object under its prefix."""
    if is_remote_zarr(uri):
        digest = hashlib.blake2b(uri.encode(), digest_size=20)
        for info in sorted(_list(uri, _path(uri).rstrip("/")), key=lambda i: i.path):
            if info.type == pafs.FileType.File:
                digest.update(f"\n{info.path}\0{info.size}\0{info.mtime_ns or 0}".encode())
        return digest.hexdigest()
    info = remote_info(uri)
    mtime = info.mtime_ns if info.mtime_ns is not None else 0
    return hashlib.blake2b(f"{uri}\0{info.size}\0{mtime}".encode(), digest_size=20).hexdigest()


def expand_remote(pattern: str) -> list[str]:
    """The objects and Zarr stores an ``s3://bucket/prefix/*.nwb`` (or ``*.nwb.zarr``) pattern names (the
    pattern itself when it has no wildcard), sorted."""
    if not any(ch in pattern for ch in "*?["):
        return [pattern]
    scheme = pattern.split("://", 1)[0]
    path = _path(pattern).rstrip("/")
    base = path[: min(path.index(ch) for ch in "*?[" if ch in path)].rsplit("/", 1)[0]
    matches: set[str] = set()
    for info in _list(pattern, base):
        if info.type != pafs.FileType.File:
            continue
        if fnmatch.fnmatchcase(info.path, path):
            matches.add(info.path)
        elif posixpath.basename(info.path) == ".zgroup":  # a group of a Zarr store: the store may match
            store = posixpath.dirname(info.path)
            if fnmatch.fnmatchcase(store, path):
                matches.add(store)
    nested = {m for m in matches if any(m.startswith(f"{other}/") for other in matches)}  # inside a store
    return [f"{scheme}://{m}" for m in sorted(matches - nested)]


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
