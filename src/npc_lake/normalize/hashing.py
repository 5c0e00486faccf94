"""Content digests of frames: equal rows give equal digests, whatever the chunking."""

from __future__ import annotations

import hashlib
import io

import numpy as np
import polars as pl

from npc_lake.schema.ephys import UNIT_COLUMNS_IN_SPIKES

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


def update_spike_digest(digest: hashlib.blake2b, batch: pl.DataFrame) -> None:
    """Feed a spike batch into ``digest`` quickly: its units as runs, its times and amplitudes as raw bytes.

    Equal batches give equal digests; this avoids serialising one unit_id string per spike.
    """
    runs = batch.select(pl.col("unit_id").rle()).unnest("unit_id")
    digest.update("\x1f".join(runs["value"].to_list()).encode())
    lengths = runs["len"].to_numpy().astype("<i8")
    digest.update(lengths.tobytes())
    starts = np.cumsum(lengths) - lengths
    for name in batch.columns:
        if name in ("unit_id", "session_id"):
            continue
        column = batch[name]
        digest.update(name.encode())
        if name in UNIT_COLUMNS_IN_SPIKES:  # attributes of the unit, constant within its run: one value per run
            digest.update(repr(column.gather(starts).to_list()).encode())
            continue
        digest.update(column.is_null().to_numpy().tobytes())
        digest.update(column.fill_null(0).to_numpy().tobytes())
