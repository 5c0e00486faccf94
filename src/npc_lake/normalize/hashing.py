"""Content digests of frames: equal rows give equal digests, whatever the chunking."""

from __future__ import annotations

import hashlib
import io

import polars as pl

DIGEST_SIZE = 20


def new_digest() -> hashlib.blake2b:
    """A fresh blake2b digest of the size used throughout the lake."""
    return hashlib.blake2b(digest_size=DIGEST_SIZE)


def update_digest(digest: hashlib.blake2b, frame: pl.DataFrame) -> None:
    """Feed ``frame`` (schema and values) into ``digest``.

    The frame is written as an uncompressed Arrow IPC stream of one chunk, which is a deterministic
    function of its schema and values.
    """
    buffer = io.BytesIO()
    frame.rechunk().write_ipc_stream(buffer, compression="uncompressed")
    digest.update(buffer.getbuffer())


def frame_digest(frame: pl.DataFrame) -> str:
    """Hex digest of one frame."""
    digest = new_digest()
    update_digest(digest, frame)
    return digest.hexdigest()
