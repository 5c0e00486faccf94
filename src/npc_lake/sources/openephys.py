"""Open Ephys GUI recordings (binary format, GUI 0.6 and later): streams, their sample clocks, TTL events.

A recording folder ``Record Node N/experimentE/recordingR/`` holds ``structure.oebin`` (JSON: one entry
per continuous stream with its folder, rate and channels, and one per event stream), ``sync_messages.txt``
(the first sample number of every stream and the computer's clock at start), ``continuous/<stream>/``
(``continuous.dat``: interleaved int16 samples, no header; ``sample_numbers.npy``) and
``events/<stream>/TTL/`` (``sample_numbers.npy`` int64, ``states.npy`` int16 where ``+k`` is line ``k-1``
going high and ``-k`` going low, ``timestamps.npy``, ``full_words.npy``).

Neuropixels streams are named ``ProbeA`` (2.0) or ``ProbeA-AP`` / ``ProbeA-LFP`` (1.0). Each probe's
``TTL`` events are the edges its basestation saw on the rig's sync input; :mod:`npc_lake.sources.timing`
fits them to the sync file's clock. Samples themselves are not read here: only their size and place.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from npc_lake.errors import SourceError

_START = re.compile(r"Start Time for (?P<processor>.+?) \((?P<id>\d+)\) - (?P<stream>.+?) @ (?P<rate>[\d.]+) Hz: "
                    r"(?P<sample>-?\d+)")
_SOFTWARE = re.compile(r"Software Time.*?:\s*(?P<ms>\d+)")
_PROBE = re.compile(r"Probe(?P<letter>[A-Z])(?:-(?P<band>AP|LFP))?$")
_NUMBERED = re.compile(r"(?:experiment|recording)(\d+)$")


@dataclass(frozen=True)
class Stream:
    """One continuous stream of a recording."""

    name: str
    folder: Path
    sample_rate: float
    num_channels: int
    bit_volts: float | None
    first_sample: int | None
    num_samples: int | None

    @property
    def probe_letter(self) -> str | None:
        """``A`` for ``ProbeA`` / ``ProbeA-AP`` / ``ProbeA-LFP``; ``None`` for other streams."""
        match = _PROBE.search(self.name)
        return match["letter"] if match else None

    @property
    def band(self) -> str | None:
        """``AP``, ``LFP`` or ``None`` (a wide-band 2.0 probe stream or not a probe)."""
        match = _PROBE.search(self.name)
        return match["band"] if match else None

    @property
    def data_path(self) -> Path:
        """The stream's ``continuous.dat``."""
        return self.folder / "continuous.dat"


@dataclass(frozen=True)
class Recording:
    """One ``recordingR`` folder of an Open Ephys session."""

    folder: Path
    experiment: int
    recording: int
    streams: tuple[Stream, ...]
    ttl_folders: dict[str, Path]
    start_time: datetime | None

    def stream(self, name: str) -> Stream:
        """The stream called ``name``."""
        for stream in self.streams:
            if stream.name == name:
                return stream
        raise SourceError(str(self.folder), f"no stream {name!r} (streams: {[s.name for s in self.streams]})")

    def ttl_events(self, stream_name: str) -> pl.DataFrame:
        """TTL edges of one stream: ``line`` (0-based), ``is_rising``, ``sample_number`` (stream clock).

        Raises
        ------
        SourceError
            The stream has no TTL folder, or its arrays are unreadable or of different lengths.
        """
        folder = self.ttl_folders.get(stream_name)
        if folder is None:
            raise SourceError(str(self.folder), f"stream {stream_name!r} has no TTL events")
        samples = _load(folder / "sample_numbers.npy").astype(np.int64).ravel()
        states = _load(folder / "states.npy").astype(np.int64).ravel()
        if samples.shape != states.shape:
            raise SourceError(str(folder), f"{samples.size} sample numbers for {states.size} states")
        if (states == 0).any():
            raise SourceError(str(folder), "a TTL state of 0 names no line")
        return pl.DataFrame({"line": (np.abs(states) - 1).astype(np.int32), "is_rising": states > 0,
                             "sample_number": samples})


def _load(path: Path) -> np.ndarray[Any, Any]:
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise SourceError(str(path), f"cannot read as a NumPy array: {exc}") from exc


def _sync_messages(path: Path) -> tuple[dict[str, int], datetime | None]:
    if not path.is_file():
        return {}, None
    text = path.read_text(encoding="utf-8", errors="replace")
    starts = {m["stream"].strip(): int(m["sample"]) for m in _START.finditer(text)}
    software = _SOFTWARE.search(text)
    started = datetime.fromtimestamp(int(software["ms"]) / 1000, tz=UTC) if software else None
    return starts, started


def _stream(folder: Path, entry: dict[str, Any], starts: dict[str, int]) -> Stream:
    name = str(entry.get("stream_name") or entry.get("folder_name", "").strip("/").split(".")[-1])
    stream_folder = folder / "continuous" / str(entry.get("folder_name", "")).strip("/")
    channels = int(entry.get("num_channels") or 0)
    data = stream_folder / "continuous.dat"
    num_samples = data.stat().st_size // (2 * channels) if channels and data.is_file() else None
    first = starts.get(name)
    numbers = stream_folder / "sample_numbers.npy"
    if first is None and numbers.is_file():
        values = np.load(numbers, mmap_mode="r")
        first = int(values[0]) if values.size else None
    volts = [c.get("bit_volts") for c in entry.get("channels", []) if isinstance(c, dict)]
    return Stream(name=name, folder=stream_folder, sample_rate=float(entry.get("sample_rate") or 0.0),
                  num_channels=channels, bit_volts=float(volts[0]) if volts and volts[0] is not None else None,
                  first_sample=first, num_samples=num_samples)


def read_recording(folder: str | os.PathLike[str]) -> Recording:
    """Read the layout of one Open Ephys recording folder (the one holding ``structure.oebin``).

    Raises
    ------
    SourceError
        The folder has no readable ``structure.oebin``.
    """
    root = Path(folder)
    oebin = root / "structure.oebin"
    try:
        structure = json.loads(oebin.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SourceError(str(oebin), f"cannot read the Open Ephys structure file: {exc}") from exc
    if not isinstance(structure, dict):
        raise SourceError(str(oebin), "the Open Ephys structure file is not a JSON object")
    starts, started = _sync_messages(root / "sync_messages.txt")
    streams = tuple(_stream(root, entry, starts) for entry in structure.get("continuous", [])
                    if isinstance(entry, dict))
    ttl = {}
    for entry in structure.get("events", []):
        name = str(entry.get("folder_name", ""))
        if isinstance(entry, dict) and name.rstrip("/").endswith("TTL"):
            ttl[str(entry.get("stream_name"))] = root / "events" / name.strip("/")
    experiment = _NUMBERED.search(root.parent.name)
    recording = _NUMBERED.search(root.name)
    return Recording(folder=root, experiment=int(experiment[1]) if experiment else 1,
                     recording=int(recording[1]) if recording else 1, streams=streams, ttl_folders=ttl,
                     start_time=started)


def find_recordings(folder: str | os.PathLike[str]) -> list[Recording]:
    """Every Open Ephys recording under ``folder``, ordered by record node, experiment and recording."""
    found = [read_recording(path.parent) for path in sorted(Path(folder).rglob("structure.oebin"))]
    return sorted(found, key=lambda r: (str(r.folder.parent.parent), r.experiment, r.recording))
