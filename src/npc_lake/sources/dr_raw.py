"""A raw Dynamic Routing session folder to one session's frames, everything on the sync clock.

The folder is searched (at any depth) for the parts a DR rig and the sorting pipeline leave:

- TaskControl files ``<Task>_<subject>_<yyyymmdd>_<HHMMSS>.hdf5`` (DynamicRouting1, RFMapping,
  OptoTagging, Spontaneous, …), in the order of the time in their names;
- one sync file (``*.sync``, or an ``.h5`` named ``<yyyymmdd>T<HHMMSS>.h5``);
- Open Ephys recordings (``structure.oebin``); for each probe the recording with the most TTL events;
- sorted output: a folder with ``spike_times.npy`` whose path names the probe (``ProbeA``, ``probe_A``);
- per-probe CCF channel tables ``Probe_<X>*_channels_*.csv``;
- optionally ``npc_lake.toml``, per-session overrides (see :func:`read_overrides`).

Without a sync file nothing can be put on the sync clock and the folder is refused. Every other missing
or unreadable part leaves out only what depends on it, and says so in :attr:`SessionBundle.skipped`
(written to the ingest log): a task file whose frames match no vsync block, a probe without sorted
output or without barcodes, a corrupt file. Timing rules are in :mod:`npc_lake.sources.timing`,
column definitions in :mod:`npc_lake.sources.dr_task` and :mod:`npc_lake.sources.dr_intervals`.
"""

from __future__ import annotations

import os
import re
import tomllib
import uuid
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

from npc_lake.errors import NpcLakeError, SourceError
from npc_lake.schema.bundle import SessionBundle
from npc_lake.schema.ids import validate_id
from npc_lake.sources import dr_ephys
from npc_lake.sources.display_times import CONSTANT_DISPLAY_LAG_S, MONITOR_CENTER_DELAY_S, frame_display_times
from npc_lake.sources.dr_intervals import laser_device, opto_tagging_frame, rf_mapping_frames
from npc_lake.sources.dr_performance import block_performance
from npc_lake.sources.dr_running import DESCRIPTION as RUNNING_DESCRIPTION
from npc_lake.sources.dr_running import running_speed
from npc_lake.sources.dr_task import FrameClock, stimuli_frame, trials_frame
from npc_lake.sources.kilosort import read_sorted
from npc_lake.sources.openephys import Recording, Stream, find_recordings
from npc_lake.sources.sync import read_sync
from npc_lake.sources.task_hdf5 import TaskFile, read_task_file, task_name_of
from npc_lake.sources.timing import (
    BAR_DURATION,
    BARCODE_MIN_GAP,
    MAX_FRAME_MISMATCH,
    decode_barcodes,
    display_lag,
    fit_clock,
    vsync_blocks,
)

#: Sync lines by role: the labels that name them, and the bit used when that bit carries no label
#: (the rigs record sound and laser on unlabelled lines 1 and 11).
SYNC_LINES: dict[str, tuple[tuple[str, ...], int | None]] = {
    "barcode": (("barcode_ephys", "barcode"), None),
    "vsync": (("vsync_stim", "stim_vsync"), None),
    "photodiode": (("stim_photodiode", "photodiode"), None),
    "stim_running": (("stim_running",), None),
    "lick": (("lick_sensor",), None),
    "sound": (("sound_running", "audio_running"), 1),
    "laser": (("laser_488", "laser_running"), 11),
    "behavior_camera": (("beh_cam_exposing", "behavior_cam_exposing"), None),
    "face_camera": (("face_cam_exposing",), None),
    "eye_camera": (("eye_cam_exposing",), None),
}
#: Where the rigs are: the zone of the sync file's wall-clock start time, unless overridden.
DEFAULT_TIMEZONE = "America/Los_Angeles"
OVERRIDES_FILE = "npc_lake.toml"
_SYNC_NAME = re.compile(r"^\d{8}T\d{6}\.h5$")
_FOLDER_SUBJECT = re.compile(r"(?:^|_)(\d{5,7})_(?:\d{8}|\d{4}-\d{2}-\d{2})")
_PROBE_IN_PATH = re.compile(r"[Pp]robe[_-]?([A-F])(?![a-z])")
_TASK_TAGS = {"DynamicRouting1": ["task", "rewards"], "RFMapping": ["rf_mapping"], "OptoTagging": ["optotagging"],
              "Spontaneous": ["spontaneous"], "SpontaneousRewards": ["spontaneous", "rewards"]}
_TASK_INTERVALS = {"DynamicRouting1": ["trials", "performance"], "RFMapping": ["VisRFMapping", "AudRFMapping"],
                   "OptoTagging": ["OptoTagging"]}


def read_overrides(folder: Path, session_id: str | None = None) -> dict[str, Any]:
    """Per-session settings for known-bad raw files, from ``npc_lake.toml`` in the folder.

    The file holds either the settings themselves or a ``[sessions."<session_id>"]`` table per session.
    Settings: ``skip_probes`` (letters), ``skip_files`` (file names), ``sync_lines`` (role → bit),
    ``timezone``, ``subject`` (subjects columns) and ``invalid_times`` (``start_time``, ``stop_time``,
    ``reason``).
    """
    path = folder / OVERRIDES_FILE
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SourceError(str(path), f"cannot read the overrides file: {exc}") from exc
    sessions = data.get("sessions")
    if isinstance(sessions, dict):
        chosen = sessions.get(session_id, {}) if session_id else {}
        return chosen if isinstance(chosen, dict) else {}
    return data


class _Session:
    """One folder being read: its parts, what was skipped, and the frames built so far."""

    def __init__(self, folder: Path, session_id: str | None) -> None:
        self.folder = folder
        self.skipped: list[str] = []
        self.tables: dict[str, list[pl.DataFrame]] = {}
        task_paths = [p for p in folder.rglob("*.hdf5") if task_name_of(p)]
        self.task_paths = sorted(task_paths, key=lambda p: (p.stem.split("_")[-2:], p.name))
        named = _FOLDER_SUBJECT.search(folder.name)
        self.subject = (self.task_paths[0].stem.split("_")[1] if self.task_paths
                        else named[1] if named else None)
        syncs = sorted(p for p in folder.rglob("*")
                       if p.is_file() and (p.suffix == ".sync" or _SYNC_NAME.match(p.name)))
        if not syncs:
            raise SourceError(str(folder), "no sync file (*.sync or <yyyymmdd>T<HHMMSS>.h5): the session cannot "
                              "be put on the sync clock")
        if len(syncs) > 1:
            raise SourceError(str(folder), f"more than one sync file: {[p.name for p in syncs]}")
        self.sync = read_sync(syncs[0])
        if self.sync.start_time is None:
            raise SourceError(str(syncs[0]), "the sync file has no start_time")
        if session_id is None and self.subject is None:
            raise SourceError(str(folder), "no task file and no subject in the folder name: pass a session id")
        self.session_id = validate_id(session_id or f"{self.subject}_{self.sync.start_time:%Y-%m-%d}")
        self.overrides = read_overrides(folder, self.session_id)

    def skip(self, what: str, reason: str) -> None:
        self.skipped.append(f"{what}: {reason}")

    def add(self, table: str, frame: pl.DataFrame) -> None:
        self.tables.setdefault(table, []).append(frame)

    def line(self, role: str) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]] | None:
        """(rising, falling) edge times of the sync line playing ``role``, or ``None``."""
        labels, fallback = SYNC_LINES[role]
        bit = self.overrides.get("sync_lines", {}).get(role)
        if bit is None:
            bit = next((self.sync.line_labels.index(label) for label in labels if self.sync.has_line(label)), None)
        if bit is None and fallback is not None and fallback < len(self.sync.line_labels) \
                and not self.sync.line_labels[fallback]:
            bit = fallback
        if bit is None:
            return None
        rising, falling = self.sync.rising_edges(bit), self.sync.falling_edges(bit)
        return (rising, falling) if rising.size else None


def _timed_tasks(session: _Session) -> list[tuple[TaskFile, FrameClock]]:
    """Each readable task file with the vsync block of its frames, in order; unmatched files are skipped."""
    vsync = session.line("vsync")
    if vsync is None:
        raise SourceError(session.sync.uri, "the sync file has no vsync edges: no task file can be timed")
    blocks = vsync_blocks(vsync[1], running=session.line("stim_running"))
    photodiode = session.line("photodiode")
    lines = {role: session.line(role) for role in ("sound", "laser", "lick")}
    skip_files = set(session.overrides.get("skip_files", []))
    timed = []
    next_block = 0
    for path in session.task_paths:
        if path.name in skip_files:
            session.skip(f"epochs ({path.name})", "listed in skip_files of npc_lake.toml")
            continue
        try:
            task = read_task_file(path)
        except SourceError as exc:
            session.skip(f"epochs ({path.name})", exc.reason)
            continue
        match = next((i for i in range(next_block, len(blocks))
                      if abs(blocks[i].size - task.n_frames) <= MAX_FRAME_MISMATCH), None)
        if match is None:
            session.skip(f"epochs ({path.name})", f"its {task.n_frames} frames match no vsync block of the sync file")
            continue
        flips = blocks[match][: task.n_frames]
        next_block = match + 1
        every = int(task.value("diodeBoxFrameInterval", 1))
        display = (frame_display_times(flips, photodiode[0], photodiode[1], frames_per_flip=every)
                   if photodiode is not None else None)
        if display is None:
            edges = np.sort(np.concatenate(photodiode)) if photodiode is not None else np.empty(0)
            lag = display_lag(flips, edges, every=every) if edges.size else None
            offset = lag + MONITOR_CENTER_DELAY_S if lag is not None else CONSTANT_DISPLAY_LAG_S
            why = "its photodiode edges do not fit its frames" if photodiode is not None else "no photodiode line"
            session.skip(f"display times ({path.name})", f"{why}: vsync + {offset * 1000:.2f} ms used")
            display = flips + offset
        lick = lines["lick"]
        timed.append((task, FrameClock(flips=flips, display=display,
                                       sound_edges=lines["sound"], laser_edges=lines["laser"],
                                       lick_times=lick[0] if lick is not None else None)))
    return timed


def _read_tasks(session: _Session) -> tuple[list[str], str | None, str | None]:
    """Epochs, trials, intervals, rewards and running speed of every timed task file."""
    if not session.task_paths:
        session.skip("epochs, trials and intervals", "no TaskControl files (<Task>_<subject>_<date>_<time>.hdf5)")
        return [], None, None
    timed = _timed_tasks(session)
    names, rig, version = [], None, None
    main = max((t for t, _ in timed if t.task_name == "DynamicRouting1"), key=lambda t: t.n_frames, default=None)
    interval_counts: dict[str, int] = {}
    lasers: set[str] = set()
    speed_parts = []
    for index, (task, clock) in enumerate(timed):
        names.append(task.task_name)
        session.add("epochs", pl.DataFrame({
            "epoch_index": [index], "start_time": [float(clock.display[0])], "stop_time": [float(clock.display[-1])],
            "script_name": [task.task_name], "tags": [_TASK_TAGS.get(task.task_name, [])],
            "interval_names": [_TASK_INTERVALS.get(task.task_name, [])]}))
        try:
            if task.task_name == "DynamicRouting1" and task is main:
                rig, version = task.value("rigName"), task.value("taskVersion")
                trials = trials_frame(task, clock)
                session.add("trials", trials)
                session.add("stimuli", stimuli_frame(task))
                session.add("intervals", block_performance(trials))
                rewards = np.sort(task.array("rewardFrames", dtype=np.float64))
                session.add("events", _events("rewards", clock.flip(rewards, task.uri),
                                              "Times of water deliveries (the flip of the frame that triggered them)."))
                # a violation is seen by a frame's input read, which follows the previous frame's flip
                seen = clock.input_read(task.array("quiescentViolationFrames", dtype=np.float64), task.uri)
                session.add("events", _events(
                    "quiescent_interval_violations", np.unique(seen),
                    "Times at which the subject licked during a pre-trial quiescent interval, restarting it (the "
                    "input read of the frame that saw the lick: the previous frame's flip)."))
            elif task.task_name == "DynamicRouting1":
                session.skip(f"trials ({Path(task.uri).name})", "a larger DynamicRouting1 file is the session's task")
            elif task.task_name == "RFMapping":
                for frame in rf_mapping_frames(task, clock):
                    session.add("intervals", _numbered(frame, interval_counts))
            elif task.task_name == "OptoTagging":
                pulses = opto_tagging_frame(task, clock)
                session.add("intervals", _numbered(pulses, interval_counts))
                for device in sorted(set(pulses["device_name"].drop_nulls().to_list()) - lasers):
                    lasers.add(device)
                    session.add("devices", laser_device(device))
            speed = running_speed(task, clock)
            if speed is not None:
                speed_parts.append(speed)
        except NpcLakeError as exc:
            session.skip(f"{task.task_name} rows ({Path(task.uri).name})", str(exc))
    if speed_parts:
        times = np.concatenate([t for t, _ in speed_parts])
        values = np.concatenate([v for _, v in speed_parts])
        session.add("timeseries", pl.DataFrame({
            "name": "running_speed", "sample_index": np.arange(times.size), "channel": 0, "sample_time": times,
            "value": values, "unit": "cm/s", "nwb_path": "processing/behavior/BehavioralTimeSeries/running_speed",
            "description": RUNNING_DESCRIPTION}))
    return names, rig, version


def _numbered(frame: pl.DataFrame, counts: dict[str, int]) -> pl.DataFrame:
    """Intervals rows numbered on from the rows of the same name already read (several files of one kind)."""
    name = str(frame["interval_name"][0]) if frame.height else ""
    first = counts.get(name, 0)
    counts[name] = first + frame.height
    return frame.with_columns(interval_index=pl.int_range(first, first + frame.height, dtype=pl.Int64))


def _events(name: str, times: np.ndarray[Any, Any], description: str) -> pl.DataFrame:
    times = np.sort(times[np.isfinite(times)])
    return pl.DataFrame({"name": name, "event_index": np.arange(times.size), "event_time": times,
                         "nwb_path": f"processing/behavior/BehavioralEvents/{name}", "description": description})


def _sync_events(session: _Session) -> None:
    lick = session.line("lick")
    if lick is not None:
        session.add("events", _events("licks", lick[0], "Lick onsets: rising edges of the lick sensor line."))
        session.add("events", _events("lick_sensor_rising", lick[0], "Rising edges of the lick-sensor line."))
        session.add("events", _events("lick_sensor_falling", lick[1], "Falling edges of the lick-sensor line."))
    else:
        session.skip("events (licks)", "the sync file has no lick sensor line")
    for camera in ("behavior", "face", "eye"):
        edges = session.line(f"{camera}_camera")
        if edges is not None:
            session.add("events", _events(f"frametimes_{camera}", edges[0],
                                          f"Exposure starts of the {camera} camera's frames (sync line)."))



def _probe_streams(session: _Session) -> dict[str, tuple[Recording, Stream]]:
    """Each probe's AP stream (probe letter → recording and stream), from the recording with most events."""
    found: dict[str, tuple[Recording, Stream, int]] = {}
    try:
        recordings = find_recordings(session.folder)
    except SourceError as exc:
        session.skip("units (all probes)", f"Open Ephys: {exc}")
        return {}
    for recording in recordings:
        for stream in recording.streams:
            if stream.probe_letter is None or stream.band == "LFP" or stream.name not in recording.ttl_folders:
                continue
            events = recording.ttl_folders[stream.name] / "sample_numbers.npy"
            size = events.stat().st_size if events.is_file() else 0
            if stream.probe_letter not in found or size > found[stream.probe_letter][2]:
                found[stream.probe_letter] = (recording, stream, size)
    return {letter: (recording, stream) for letter, (recording, stream, _) in found.items()}


def _sorted_folders(session: _Session) -> dict[str, Path]:
    folders: dict[str, Path] = {}
    for path in sorted(session.folder.rglob("spike_times.npy")):
        match = _PROBE_IN_PATH.search(str(path.parent.relative_to(session.folder)))
        if match:
            folders.setdefault(match[1], path.parent)
    return folders


def _read_probes(session: _Session) -> list[dr_ephys.Probe]:
    streams, sorted_folders = _probe_streams(session), _sorted_folders(session)
    letters = sorted(set(streams) | set(sorted_folders))
    barcode = session.line("barcode")
    sync_barcodes = decode_barcodes(*barcode) if barcode is not None else None
    skip_probes = set(session.overrides.get("skip_probes", []))
    probes = []
    for letter in letters:
        what = f"units (probe{letter})"
        if letter in skip_probes:
            session.skip(what, "listed in skip_probes of npc_lake.toml")
            continue
        if letter not in sorted_folders:
            session.skip(what, "no sorted output")
            continue
        if letter not in streams:
            session.skip(what, "no Open Ephys stream with TTL events: its spike times cannot be put on the sync clock")
            continue
        recording, stream = streams[letter]
        try:
            sorted_output = read_sorted(sorted_folders[letter], sample_rate=stream.sample_rate)
            events = recording.ttl_events(stream.name)
        except SourceError as exc:
            session.skip(what, str(exc))
            continue
        line = events.filter(pl.col("line") == 0)
        probe_barcodes = decode_barcodes(
            line.filter(pl.col("is_rising"))["sample_number"].to_numpy().astype(np.float64),
            line.filter(~pl.col("is_rising"))["sample_number"].to_numpy().astype(np.float64),
            bar=BAR_DURATION * stream.sample_rate, min_gap=BARCODE_MIN_GAP * stream.sample_rate)
        clock = fit_clock(probe_barcodes, sync_barcodes) if sync_barcodes is not None else None
        if clock is None or stream.first_sample is None:
            session.skip(what, "fewer than two barcodes shared with the sync file: its clock cannot be fitted")
            continue
        ccf_paths = sorted(session.folder.rglob(f"Probe_{letter}*_channels_*.csv"))
        ccf = None
        if ccf_paths:
            try:
                ccf = dr_ephys.read_ccf_table(ccf_paths[0])
            except SourceError as exc:
                session.skip(f"electrodes (probe{letter} CCF)", str(exc))
        probes.append(dr_ephys.Probe(letter=letter, position=ord(letter) - ord("A"), sorted_output=sorted_output,
                                     clock=clock, first_sample=stream.first_sample, ccf=ccf))
    return probes


def _session_rows(session: _Session, epochs: list[str], rig: str | None, version: str | None) -> None:
    zone = ZoneInfo(str(session.overrides.get("timezone", DEFAULT_TIMEZONE)))
    assert session.sync.start_time is not None
    local = session.sync.start_time.replace(tzinfo=zone)
    offset = local.utcoffset()
    start = local.astimezone(UTC)
    identifier = uuid.uuid5(uuid.NAMESPACE_URL, f"npc_lake:dr-raw:{session.session_id}:{session.sync.start_time}")
    session.add("sessions", pl.DataFrame({
        "subject_id": [session.subject], "session_start_time": [start], "timestamps_reference_time": [start],
        "utc_offset_minutes": [int(offset.total_seconds() // 60) if offset is not None else None],
        "identifier": [str(identifier)],
        "session_description": ["Dynamic Routing session read from its raw files (task, sync, Open Ephys, sorted)"],
        "institution": ["Allen Institute"], "rig": [rig], "task_version": [version], "epochs": [epochs]}))
    subject = {k: v for k, v in session.overrides.get("subject", {}).items() if k not in ("session_id", "subject_id")}
    session.add("subjects", pl.DataFrame({"subject_id": [session.subject], "species": ["Mus musculus"],
                                          **{k: [v] for k, v in subject.items()}}))
    invalid = session.overrides.get("invalid_times", [])
    if invalid:
        session.add("intervals", pl.DataFrame({
            "interval_name": "invalid_times", "interval_index": list(range(len(invalid))),
            "start_time": [float(row["start_time"]) for row in invalid],
            "stop_time": [float(row.get("stop_time", -1)) if float(row.get("stop_time", -1)) >= 0
                          else session.sync.duration for row in invalid],
            "reason": [str(row.get("reason", "")) or None for row in invalid]}))


def read_dr_session(folder: str | os.PathLike[str], *, session_id: str | None = None) -> SessionBundle:
    """Read a raw DR session folder.

    Parameters
    ----------
    folder
        The session folder (searched at any depth).
    session_id
        Override the id (default ``<subject>_<yyyy-mm-dd>`` from the task files and the sync file).

    Returns
    -------
    SessionBundle
        With ``skipped`` listing what was left out and why.

    Raises
    ------
    SourceError
        The folder has no usable sync file or no vsync line: nothing in it can be timed.
    """
    root = Path(folder)
    if not root.is_dir():
        raise SourceError(str(root), "not a folder")
    session = _Session(root, session_id)
    epochs, rig, version = _read_tasks(session)
    _sync_events(session)
    probes = _read_probes(session)
    for name, frame in dr_ephys.probe_tables(session.session_id, probes).items():
        if frame.height:
            session.add(name, frame)
    _session_rows(session, epochs, rig, version)
    tables = {name: pl.concat(frames, how="diagonal_relaxed").with_columns(session_id=pl.lit(session.session_id))
              for name, frames in session.tables.items()}
    if "events" in tables:
        tables["events"] = tables["events"].with_columns(
            event_index=pl.int_range(pl.len(), dtype=pl.Int64).over("name"))

    def batches() -> Iterator[pl.DataFrame]:
        return dr_ephys.spike_batches(session.session_id, probes)

    return SessionBundle(session_id=session.session_id, source_uri=str(root.resolve()), tables=tables,
                         spike_batches=batches, skipped=list(session.skipped))
