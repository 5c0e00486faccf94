"""`npc-lake sql` over 20 synthetic sessions gives the answers of the same computation done with pynwb."""

from __future__ import annotations

import json
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import pynwb
import pytest
from click.testing import CliRunner

from npc_lake.cli import main
from npc_lake.testing import write_synthetic_nwb

N_SESSIONS = 20


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Path], str]:
    folder = tmp_path_factory.mktemp("corpus")
    files = write_synthetic_nwb(folder / "nwb", n_sessions=N_SESSIONS, n_units=12, duration_s=240.0, seed=5)
    lake = str(folder / "lake")
    result = CliRunner().invoke(main, ["ingest", *map(str, files), "--lake", lake])
    assert result.exit_code == 0, result.output
    return files, lake


def sql(lake: str, query: str) -> list[dict[str, object]]:
    result = CliRunner().invoke(main, ["sql", query, "--lake", lake, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)  # type: ignore[no-any-return]


def pynwb_files(files: list[Path]):  # type: ignore[no-untyped-def]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for path in files:
            with pynwb.NWBHDF5IO(str(path), "r") as io:
                yield io.read()


def test_good_units_per_structure(corpus: tuple[list[Path], str]) -> None:
    files, lake = corpus
    expected: Counter[str] = Counter()
    for nwb in pynwb_files(files):
        units = nwb.units.to_dataframe()
        expected.update(units.loc[units["default_qc"] == 1, "structure"])
    got = sql(lake, "SELECT structure, count(*) AS n FROM units WHERE default_qc GROUP BY 1")
    assert {row["structure"]: row["n"] for row in got} == dict(expected)
    assert sum(expected.values()) > 0


def test_hit_rate_per_session_and_context(corpus: tuple[list[Path], str]) -> None:
    files, lake = corpus
    expected = {}
    for nwb in pynwb_files(files):
        trials = nwb.trials.to_dataframe()
        for modality, block in trials.groupby("rewarded_modality"):
            go = block["is_go"] == 1
            rate = float((block.loc[go, "is_hit"] == 1).mean()) if go.any() else None
            expected[(nwb.session_id, modality)] = None if rate is None else round(rate, 9)
    got = sql(lake, "SELECT session_id, rewarded_modality, round(hit_rate(is_hit, is_go), 9) AS hr "
                    "FROM trials GROUP BY ALL")
    assert {(r["session_id"], r["rewarded_modality"]): r["hr"] for r in got} == expected
    assert len(expected) == 2 * N_SESSIONS


def test_spikes_per_unit(corpus: tuple[list[Path], str]) -> None:
    files, lake = corpus
    expected = {}
    for nwb in pynwb_files(files):
        units = nwb.units.to_dataframe()
        for unit_id, spikes in zip(units["unit_id"], units["spike_times"], strict=True):
            expected[unit_id] = len(spikes)
    got = sql(lake, "SELECT u.unit_id, count(s.spike_time) AS n FROM units u "
                    "LEFT JOIN spike_times s USING (session_id, unit_id) GROUP BY 1")
    assert {r["unit_id"]: r["n"] for r in got} == expected
    assert 0 in expected.values() or len(expected) == 12 * N_SESSIONS


def test_stimulus_locked_spike_counts(corpus: tuple[list[Path], str]) -> None:
    """Spikes of QC-passing visual units 0–100 ms after vis1 onsets, per session: a cross-table join."""
    files, lake = corpus
    expected = {}
    for nwb in pynwb_files(files):
        units = nwb.units.to_dataframe()
        trials = nwb.trials.to_dataframe()
        onsets = trials.loc[trials["stim_name"] == "vis1", "stim_start_time"].to_numpy()
        good = units[(units["default_qc"] == 1) & units["structure"].str.startswith("VIS")]
        total = 0
        for spikes in good["spike_times"]:
            spikes = np.asarray(spikes)
            total += int(sum(((spikes >= t) & (spikes < t + 0.1)).sum() for t in onsets))
        expected[nwb.session_id] = total
    got = sql(lake, """
        SELECT t.session_id, count(s.spike_time) AS n
        FROM trials t
        JOIN units u ON u.session_id = t.session_id AND u.default_qc AND u.structure LIKE 'VIS%'
        LEFT JOIN spike_times s ON s.unit_id = u.unit_id
             AND s.spike_time >= t.stim_start_time AND s.spike_time < t.stim_start_time + 0.1
        WHERE t.stim_name = 'vis1'
        GROUP BY 1""")
    got_map = {r["session_id"]: r["n"] for r in got}
    assert {k: v for k, v in expected.items() if k in got_map or v} == got_map
    assert sum(expected.values()) > 0
