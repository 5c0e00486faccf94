"""Shared fixtures: tiny hand-made sessions and paths to the real data next to the repo."""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from npc_lake.schema import SessionBundle
from npc_lake.testing import write_synthetic_nwb

REALDATA = Path(os.environ.get("NPC_LAKE_REALDATA", Path(__file__).resolve().parents[2] / "shared" / "realdata"))


def realdata_path(*parts: str) -> Path:
    """A path under ../shared/realdata; skips the test when it is absent."""
    path = REALDATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real data not available: {path} (set NPC_LAKE_REALDATA)")
    return path


def lake_bytes(root: Path, *, except_tables: tuple[str, ...] = ()) -> dict[str, str]:
    """Digest of every file under a lake folder (empty if it does not exist): "byte for byte unchanged".

    ``except_tables`` leaves out tables that are expected to change (``ingest_runs``, which records every
    attempt, failed ones included).
    """
    if not root.exists():
        return {}
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and p.relative_to(root).parts[0] not in except_tables}


def tiny_bundle(session_id: str = "600001_2024-01-02", *, n_units: int = 3, spikes_per_unit: int = 50,
                seed: int = 0, unsorted_unit: int | None = None, extra_trial_column: bool = False) -> SessionBundle:
    """A minimal but complete session made by hand (no generator, no NWB)."""
    rng = np.random.default_rng(seed)
    unit_ids = [f"{session_id}_A-{i}" for i in range(n_units)]
    spikes = {u: np.sort(rng.uniform(0, 100, spikes_per_unit)) for u in unit_ids}
    if unsorted_unit is not None:
        spikes[unit_ids[unsorted_unit]] = spikes[unit_ids[unsorted_unit]][::-1].copy()
    trials = pl.DataFrame({
        "trial_index": list(range(4)),
        "start_time": [1.0, 11.0, 21.0, 31.0],
        "stop_time": [9.5, 19.5, 29.5, 39.5],
        "stim_name": ["vis1", "sound1", "vis2", "catch"],
        "is_hit": [True, False, False, False],
        "is_go": [True, False, False, False],
        "rewarded_modality": ["vis", "vis", "vis", "vis"],
    })
    if extra_trial_column:
        trials = trials.with_columns(pl.Series("lab_specific_score", [0.5, 1.5, 2.5, 3.5]))
    tables = {
        "sessions": pl.DataFrame({
            "session_id": [session_id], "subject_id": [session_id.split("_")[0]],
            "session_start_time": [datetime(2024, 1, 2, 17, 30, tzinfo=UTC)],
            "session_description": ["tiny session"], "keywords": [["test", "ünïcode"]],
        }),
        "subjects": pl.DataFrame({"subject_id": [session_id.split("_")[0]], "species": ["Mus musculus"]}),
        "devices": pl.DataFrame({"device_name": ["probeA"]}),
        "electrode_groups": pl.DataFrame({"electrode_group_name": ["probeA"], "device_name": ["probeA"]}),
        "electrodes": pl.DataFrame({"electrode_id": [0, 1, 2, 3], "electrode_group_name": ["probeA"] * 4,
                                    "channel": [0, 1, 2, 3], "location": ["VISp5", "VISp5", "VISp4", "root"]}),
        "units": pl.DataFrame({"unit_id": unit_ids, "nwb_unit_id": list(range(n_units)),
                               "electrode_group_name": ["probeA"] * n_units,
                               "peak_electrode": [i % 4 for i in range(n_units)],
                               "electrodes": [[i % 4] for i in range(n_units)],
                               "structure": ["VISp"] * n_units, "default_qc": [i % 2 == 0 for i in range(n_units)]}),
        "trials": trials,
        "epochs": pl.DataFrame({"epoch_index": [0], "start_time": [0.0], "stop_time": [100.0],
                                "script_name": ["DynamicRouting1"], "tags": [["task"]]}),
    }

    def spike_batches():  # type: ignore[no-untyped-def]
        for unit in unit_ids:
            yield pl.DataFrame({"unit_id": [unit] * spikes_per_unit, "spike_time": spikes[unit]})

    return SessionBundle(session_id=session_id, source_uri=f"memory://{session_id}", tables=tables,
                         spike_batches=spike_batches)


@pytest.fixture(scope="session")
def s3_server():  # type: ignore[no-untyped-def]
    """A real S3-compatible server (SeaweedFS ``weed mini``) on free 127.0.0.1 ports, stopped after the run."""
    from npc_lake.testing.s3server import S3Server

    with S3Server(buckets=("lake", "raw")) as server:
        yield server


@pytest.fixture
def s3_env(s3_server, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """The S3 server's ``AWS_*`` variables set for this test; yields the server."""
    for name, value in s3_server.env.items():
        monkeypatch.setenv(name, value)
    return s3_server


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Path], list[Path]]:
    """(10 good NWB files, 2 corrupt ones): 12 sessions of 20 units x 90 s."""
    folder = tmp_path_factory.mktemp("corpus")
    files = write_synthetic_nwb(folder, n_sessions=12, n_units=20, duration_s=90.0, seed=3)
    corrupt = []
    for path in files[-2:]:
        bad = path.with_name(f"truncated_{path.name}")
        bad.write_bytes(path.read_bytes()[: path.stat().st_size // 3])
        path.unlink()
        corrupt.append(bad)
    return files[:-2], corrupt
