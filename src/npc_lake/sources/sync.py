"""Allen Institute sync files: the edges of every digital line of a rig on one clock, the sync clock.

A sync file (``*.sync`` or ``*.h5``) is written by the rig's sync NI-DAQ. Its dataset ``data`` is an
``(N, 2)`` unsigned array: row ``i`` says that at counter sample ``data[i, 0]`` the lines' states became
the bitmask ``data[i, 1]`` (bit ``b`` is line ``b``). Its ``meta`` dataset is a Python-repr'd dict holding
``line_labels`` (label of each bit, ``''`` when unused), the counter rate (``ni_daq.counter_output_freq``,
100 kHz on the rigs), ``start_time`` (local wall clock, no zone) and ``total_samples``. The counter is
32 bits wide and may wrap once every ~12 h at 100 kHz; a wrap is undone here.

Seconds on the sync clock are ``sample / sample_rate``: this is the clock every time in the lake is on.
"""

from __future__ import annotations

import ast
import os
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import h5py
import numpy as np
import polars as pl

from npc_lake.errors import SourceError

#: Counter rate assumed when ``meta`` names none (the rigs' NI-DAQ counter).
DEFAULT_SAMPLE_RATE = 100_000.0


@dataclass(frozen=True)
class SyncFile:
    """The decoded contents of one sync file.

    Attributes
    ----------
    uri
        The file.
    sample_rate
        Counter samples per second.
    line_labels
        Label of each bit (``''`` for an unused line).
    samples
        Counter sample of each state change (wraps undone), int64, non-decreasing.
    states
        Bitmask of every line after each change, uint64.
    start_time
        Wall-clock time of sample 0 as the rig wrote it (no time zone), if recorded.
    total_samples
        Samples recorded, if recorded.
    """

    uri: str
    sample_rate: float
    line_labels: tuple[str, ...]
    samples: np.ndarray[Any, np.dtype[np.int64]]
    states: np.ndarray[Any, np.dtype[np.uint64]]
    start_time: datetime | None = None
    total_samples: int | None = None

    @property
    def duration(self) -> float:
        """Seconds recorded (``total_samples``, else up to the last change)."""
        last = self.total_samples if self.total_samples is not None else (
            int(self.samples[-1]) if self.samples.size else 0)
        return last / self.sample_rate

    def line_bit(self, line: str | int) -> int:
        """The bit of ``line`` (a label or a bit number).

        Raises
        ------
        SourceError
            The file has no line of that label.
        """
        if isinstance(line, int):
            if not 0 <= line < 64:
                raise SourceError(self.uri, f"sync line bit {line} is out of range")
            return line
        if line not in self.line_labels:
            known = sorted(label for label in self.line_labels if label)
            raise SourceError(self.uri, f"the sync file has no line labelled {line!r} (it has {known})")
        return self.line_labels.index(line)

    def has_line(self, line: str) -> bool:
        """Whether a line is labelled ``line``."""
        return line in self.line_labels

    def _edges(self, line: str | int, rising: bool) -> np.ndarray[Any, np.dtype[np.float64]]:
        bit = np.uint64(self.line_bit(line))
        level = (self.states >> bit) & np.uint64(1)
        before = np.concatenate([[np.uint64(0)], level[:-1]])
        changed = level != before
        if self.samples.size:
            changed[0] = False  # the first row is the initial state, not an edge
        wanted = changed & (level == (1 if rising else 0))
        return self.samples[wanted] / self.sample_rate

    def rising_edges(self, line: str | int) -> np.ndarray[Any, np.dtype[np.float64]]:
        """Times (s, sync clock) at which ``line`` went high."""
        return self._edges(line, True)

    def falling_edges(self, line: str | int) -> np.ndarray[Any, np.dtype[np.float64]]:
        """Times (s, sync clock) at which ``line`` went low."""
        return self._edges(line, False)

    def edges_frame(self) -> pl.DataFrame:
        """Every edge of every labelled line: ``line``, ``bit``, ``is_rising``, ``sample``, ``time``."""
        frames = []
        for bit, label in enumerate(self.line_labels):
            if not label:
                continue
            for rising in (True, False):
                times = self._edges(bit, rising)
                frames.append(pl.DataFrame({
                    "line": pl.Series([label] * times.size, dtype=pl.String),
                    "bit": pl.Series([bit] * times.size, dtype=pl.Int32),
                    "is_rising": pl.Series([rising] * times.size, dtype=pl.Boolean),
                    "sample": np.rint(times * self.sample_rate).astype(np.int64),
                    "time": times,
                }))
        schema = {"line": pl.String, "bit": pl.Int32, "is_rising": pl.Boolean, "sample": pl.Int64,
                  "time": pl.Float64}
        return pl.concat(frames).sort("sample", "bit") if frames else pl.DataFrame(schema=schema)


def _meta(uri: str, file: h5py.File) -> dict[str, Any]:
    if "meta" not in file:
        raise SourceError(uri, "not a sync file: it has no 'meta' dataset")
    raw = file["meta"][()]
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else str(raw)
    try:
        meta = ast.literal_eval(text.strip("\x00 "))
    except (ValueError, SyntaxError) as exc:
        raise SourceError(uri, f"the sync file's 'meta' is not a readable dict: {exc}") from exc
    if not isinstance(meta, dict):
        raise SourceError(uri, "the sync file's 'meta' is not a dict")
    return meta


def _unwrap(samples: np.ndarray[Any, Any], bits: int) -> np.ndarray[Any, np.dtype[np.int64]]:
    """Undo counter wrap-arounds: every drop in the counter adds one full period."""
    values = samples.astype(np.int64)
    wraps = np.concatenate([[0], np.cumsum(np.diff(values) < 0)])
    return values + wraps * (1 << bits)


def _start_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return datetime.fromisoformat(value.strip())
    except ValueError:
        return None


def read_sync(path: str | os.PathLike[str]) -> SyncFile:
    """Read an Allen Institute sync file.

    Parameters
    ----------
    path
        The ``.sync`` / ``.h5`` file.

    Returns
    -------
    SyncFile

    Raises
    ------
    SourceError
        The file is missing, not HDF5, truncated, or lacks the ``data``/``meta`` a sync file has.
    """
    uri = os.fspath(path)
    try:
        with h5py.File(uri, "r") as file:
            meta = _meta(uri, file)
            if "data" not in file or file["data"].ndim != 2 or file["data"].shape[1] < 2:
                raise SourceError(uri, "not a sync file: it has no (N, 2) 'data' dataset")
            data = file["data"][()]
    except OSError as exc:
        raise SourceError(uri, f"cannot read as a sync file (HDF5): {exc}") from exc
    daq: dict[str, Any] = meta["ni_daq"] if isinstance(meta.get("ni_daq"), dict) else {}
    rate = daq.get("counter_output_freq") or daq.get("sample_rate") or DEFAULT_SAMPLE_RATE
    labels = meta.get("line_labels")
    if not isinstance(labels, list | tuple) or not all(isinstance(label, str) for label in labels):
        raise SourceError(uri, "the sync file's 'meta' has no list of line_labels")
    bits = int(daq.get("counter_bits") or 8 * data.dtype.itemsize)
    samples = _unwrap(data[:, 0], bits)
    total = meta.get("total_samples")
    return SyncFile(uri=uri, sample_rate=float(rate), line_labels=tuple(labels), samples=samples,
                    states=data[:, 1].astype(np.uint64), start_time=_start_time(meta.get("start_time")),
                    total_samples=int(total) if isinstance(total, int | float) else None)
