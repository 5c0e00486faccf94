"""`npc-lake plot` and npc_lake.plots: every kind draws a PNG from a session id or a SQL query."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from npc_lake.cli import main
from npc_lake.errors import NpcLakeError
from npc_lake.lake import Lake
from npc_lake.pipeline import ingest
from npc_lake.plots import resolve_target
from npc_lake.testing import write_synthetic_nwb

pytest.importorskip("matplotlib")


@pytest.fixture(scope="module")
def plot_lake(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    root = tmp_path_factory.mktemp("plots")
    lake = Lake.open(root / "lake")
    paths = write_synthetic_nwb(root / "nwb", n_sessions=2, n_units=60, duration_s=600.0, seed=4)
    return root / "lake", [ingest(path, lake=lake).session_id for path in paths]


@pytest.mark.parametrize(("kind", "target", "options"), [
    ("psth", "SESSION", ["--by", "rewarded_modality"]),
    ("psth", "SELECT session_id, unit_id FROM units WHERE default_qc", ["--stim", "sound1"]),
    ("raster", "SESSION", []),
    ("performance", "SELECT session_id FROM sessions", []),
    ("units-map", "SELECT session_id FROM sessions", ["--stim", "vis1"]),
])
def test_plot_command_writes_a_png(plot_lake: tuple[Path, list[str]], tmp_path: Path, kind: str, target: str,
                                   options: list[str]) -> None:
    lake, sessions = plot_lake
    out = tmp_path / f"{kind}.png"
    result = CliRunner().invoke(main, ["plot", kind, target.replace("SESSION", sessions[0]), "-o", str(out),
                                       "--lake", str(lake), *options])
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10_000


def test_targets_are_sessions_or_queries(plot_lake: tuple[Path, list[str]]) -> None:
    lake, sessions = plot_lake
    assert resolve_target(sessions[1], lake=lake) == ([sessions[1]], None)
    found, units = resolve_target("SELECT session_id, unit_id FROM units WHERE structure = 'VISp'", lake=lake)
    assert set(found) <= set(sessions) and units is not None and units.columns == ["session_id", "unit_id"]
    with pytest.raises(NpcLakeError, match="neither a session"):
        resolve_target("600001_1999-01-01", lake=lake)
    with pytest.raises(NpcLakeError, match="session_id column"):
        resolve_target("SELECT unit_id FROM units", lake=lake)
    result = CliRunner().invoke(main, ["plot", "raster", sessions[0], "-o", "x.png", "--lake", str(lake),
                                       "--unit", "nope"])
    assert result.exit_code == 1 and "no unit 'nope'" in result.output
