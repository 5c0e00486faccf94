"""The example notebooks run top to bottom on a small synthetic lake and write their figures as PNG."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from npc_lake.lake import Lake
from npc_lake.pipeline import ingest
from npc_lake.testing import write_synthetic_nwb

NOTEBOOKS = sorted((Path(__file__).parents[1] / "notebooks").glob("*.ipynb"))
FIGURES = {
    "01_tour": ["performance_per_block.png"],
    "02_cross_session_psth": ["psth_visp_vis1_by_context.png"],
    "03_find_export_validate": ["spike_histogram_from_nwb.png", "units_map.png"],
}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def notebook_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("notebooks")
    lake = Lake.open(root / "lake")
    for path in write_synthetic_nwb(root / "nwb", n_sessions=3, n_units=80, duration_s=600.0, seed=0):
        ingest(path, lake=lake)
    return root / "lake"


def test_every_notebook_is_listed_and_stored_without_outputs() -> None:
    assert {path.stem for path in NOTEBOOKS} == set(FIGURES)
    for path in NOTEBOOKS:
        book = json.loads(path.read_text(encoding="utf-8"))
        code = [cell for cell in book["cells"] if cell["cell_type"] == "code"]
        assert code and all(not cell["outputs"] and cell["execution_count"] is None for cell in code), path.name


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_and_writes_its_figures(path: Path, notebook_lake: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    monkeypatch.setenv("NPC_LAKE_URI", str(notebook_lake))
    monkeypatch.setenv("NPC_LAKE_FIGURES", str(tmp_path / "figures"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    book = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(book, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute(env=dict(os.environ))  # a failing cell raises CellExecutionError naming it
    for name in FIGURES[path.stem]:
        figure = tmp_path / "figures" / name
        assert figure.read_bytes()[:8] == PNG_SIGNATURE and figure.stat().st_size > 10_000, name
