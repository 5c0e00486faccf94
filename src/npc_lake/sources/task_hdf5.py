"""TaskControl output files (DynamicRouting1, RFMapping, OptoTagging …): one HDF5 file per task run.

TaskControl saves every attribute of the task object as a root dataset, and each dict attribute as a
group of datasets. Its quirks are decoded here, in one place:

- strings are stored as bytes (``b'vis1'``), lists of strings as arrays of bytes;
- ``None`` is stored as a NaN float scalar (so a string or integer setting may come back as NaN);
- an empty list is stored as a float array of shape ``(0,)`` whatever it would have held;
- some list values are stored as their Python repr (``blockStim = [b"['vis1', 'vis2']"]``);
- per-trial arrays can differ in length by one: arrays set when a trial starts have an entry for a trial
  that was cut short by the end of the session, arrays set at its response or end do not;
- times are frame numbers of the task's display loop (``frameIntervals`` holds the seconds between
  frames on the task computer's clock; the sync file's vsync line gives each frame's time on the
  sync clock).

The TaskControl class of a file is the prefix of its name (``DynamicRouting1_620263_20220726_103514.hdf5``).
"""

from __future__ import annotations

import ast
import math
import os
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from npc_lake.errors import SourceError

#: TaskControl classes known to npc_lake, as named by their output files.
TASK_NAMES = ("DynamicRouting1", "RFMapping", "OptoTagging", "Spontaneous", "SpontaneousRewards")
_FILE_NAME = re.compile(r"^(?P<task>[A-Za-z][A-Za-z0-9]*?)_(?P<subject>[^_]+)_(?P<date>\d{8})_(?P<time>\d{6})\.hdf5$")


def _decoded(value: Any) -> Any:
    """A dataset value with TaskControl's encodings undone (bytes → str, NaN scalar → None)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "OS":
            return np.array([_decoded(v) for v in value.ravel()], dtype=object).reshape(value.shape)
        return value
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


@dataclass(frozen=True)
class TaskFile:
    """The decoded contents of one TaskControl output file.

    Attributes
    ----------
    uri
        The file.
    task_name
        TaskControl class (from the file name, e.g. ``DynamicRouting1``).
    values
        Every dataset by path (``"trialStim"``, ``"toneFreq/sound1"``), decoded.
    """

    uri: str
    task_name: str
    values: dict[str, Any] = field(repr=False)

    def has(self, name: str) -> bool:
        """Whether the file has dataset ``name``."""
        return name in self.values

    def value(self, name: str, default: Any = None) -> Any:
        """A scalar setting (``default`` when absent or stored as None)."""
        value = self.values.get(name)
        return default if value is None else value

    def array(self, name: str, *, dtype: Any = None) -> np.ndarray[Any, Any]:
        """A per-trial / per-frame array (empty when absent); ``dtype`` casts it."""
        value = self.values.get(name)
        if value is None:
            return np.array([], dtype=dtype or np.float64)
        array = np.asarray(value)
        if array.ndim == 0:
            array = array.reshape(1)
        return array.astype(dtype) if dtype is not None else array

    def strings(self, name: str) -> list[str]:
        """An array of strings (``[]`` when absent or stored as an empty list)."""
        array = self.array(name)
        if array.dtype.kind != "O":
            return [] if array.size == 0 else [str(v) for v in array.ravel()]
        return ["" if v is None else str(v) for v in array.ravel()]

    def literal_lists(self, name: str) -> list[Any]:
        """An array whose elements are repr'd Python values (``blockStim``), each parsed safely."""
        parsed = []
        for text in self.strings(name):
            try:
                parsed.append(ast.literal_eval(text))
            except (ValueError, SyntaxError) as exc:
                raise SourceError(self.uri, f"{name}: cannot parse {text!r} as a list: {exc}") from exc
        return parsed

    def group(self, name: str) -> dict[str, Any]:
        """A dict setting (a group such as ``toneFreq``): member name → value."""
        prefix = f"{name}/"
        return {key[len(prefix):]: value for key, value in self.values.items() if key.startswith(prefix)}

    @property
    def frame_rate(self) -> float:
        """Nominal display frame rate (Hz)."""
        return float(self.value("frameRate", 60))

    @property
    def n_frames(self) -> int:
        """Display frames the task ran (one more than the intervals between them)."""
        intervals = self.array("frameIntervals")
        return int(intervals.size + 1) if intervals.size else int(self.value("lastFrame", 0)) + 1

    @property
    def start_time(self) -> datetime | None:
        """Wall-clock start (``startTime``, task computer's local time), if recorded."""
        text = self.value("startTime")
        try:
            return datetime.strptime(str(text), "%Y%m%d_%H%M%S") if text else None
        except ValueError:
            return None


def task_name_of(path: str | os.PathLike[str]) -> str | None:
    """The TaskControl class named by a task file's name, or ``None`` if it does not follow the pattern."""
    match = _FILE_NAME.match(Path(path).name)
    return match["task"] if match else None


def read_task_file(path: str | os.PathLike[str], *, task_name: str | None = None) -> TaskFile:
    """Read a TaskControl output file.

    Parameters
    ----------
    path
        The ``.hdf5`` file.
    task_name
        The TaskControl class, when the file name does not say it.

    Raises
    ------
    SourceError
        The file is missing, not HDF5, truncated, or has no ``frameIntervals`` (not a TaskControl file).
    """
    uri = os.fspath(path)
    values: dict[str, Any] = {}

    def keep(name: str, node: Any) -> None:
        if isinstance(node, h5py.Dataset):
            values[name] = _decoded(node[()])

    try:
        with h5py.File(uri, "r") as file:
            file.visititems(keep)
    except (OSError, RuntimeError, KeyError) as exc:
        raise SourceError(uri, f"cannot read as a TaskControl HDF5 file: {exc}") from exc
    if "frameIntervals" not in values and "lastFrame" not in values:
        raise SourceError(uri, "not a TaskControl output file: it has no frameIntervals")
    name = task_name or task_name_of(uri) or str(_decoded(values.get("taskName", b"")) or "") or None
    if not name:
        raise SourceError(uri, "cannot tell the TaskControl class: name the file <Task>_<subject>_<date>_<time>.hdf5")
    return TaskFile(uri=uri, task_name=name, values=values)
