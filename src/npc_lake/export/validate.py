"""Checking an NWB file the way DANDI does: nwbinspector with its DANDI configuration."""

from __future__ import annotations

import os
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from npc_lake.errors import SourceError

#: Importance levels, most severe first, as nwbinspector names them.
IMPORTANCE_ORDER = ("ERROR", "PYNWB_VALIDATION", "CRITICAL", "BEST_PRACTICE_VIOLATION", "BEST_PRACTICE_SUGGESTION")
#: Levels that make a file unfit for DANDI (and `npc-lake validate` exit non-zero).
BLOCKING = frozenset({"ERROR", "PYNWB_VALIDATION", "CRITICAL"})


@dataclass(frozen=True)
class Finding:
    """One nwbinspector message."""

    importance: str
    check: str
    location: str
    message: str


@dataclass
class ValidationReport:
    """What nwbinspector (DANDI configuration) says of one file."""

    path: Path
    findings: list[Finding] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        """Number of findings per importance, most severe first (zero counts included)."""
        counter = Counter(f.importance for f in self.findings)
        return {level: counter.get(level, 0) for level in IMPORTANCE_ORDER}

    @property
    def ok(self) -> bool:
        """No ERROR, PYNWB_VALIDATION or CRITICAL finding."""
        return not any(f.importance in BLOCKING for f in self.findings)

    def summary(self) -> str:
        """One line: the file, the verdict and the counts."""
        counts = ", ".join(f"{n} {level}" for level, n in self.counts.items() if n)
        verdict = "ok for DANDI" if self.ok else "NOT ok for DANDI"
        return f"{self.path}: {verdict} ({counts or 'no findings'})"


def validate_nwb(path: str | os.PathLike[str]) -> ValidationReport:
    """Run nwbinspector with the DANDI configuration (which includes pynwb's schema validation) on ``path``.

    Parameters
    ----------
    path
        An NWB HDF5 file.

    Returns
    -------
    ValidationReport

    Raises
    ------
    SourceError
        The file does not exist.
    """
    from nwbinspector import inspect_nwbfile, load_config

    target = Path(path)
    if not target.is_file():
        raise SourceError(str(target), "no such file")
    report = ValidationReport(path=target)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for message in inspect_nwbfile(nwbfile_path=target, config=load_config("dandi")):
            if message is None:
                continue
            where = message.location or message.object_name or ""
            report.findings.append(Finding(importance=message.importance.name, check=message.check_function_name,
                                           location=f"{message.object_type} {where}".strip(),
                                           message=message.message))
    order = {level: i for i, level in enumerate(IMPORTANCE_ORDER)}
    report.findings.sort(key=lambda f: order.get(f.importance, len(order)))
    return report
