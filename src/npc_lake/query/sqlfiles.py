"""The shipped SQL (macros and example queries), read from the package or the source tree."""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def sql_dir() -> Path:
    """Folder of the shipped SQL: ``npc_lake/sql`` in a wheel, ``sql/`` at the root of a source checkout."""
    packaged = Path(str(resources.files("npc_lake"))) / "sql"
    if packaged.is_dir():
        return packaged
    checkout = Path(__file__).resolve().parents[3] / "sql"
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError("the shipped sql/ folder is missing from this installation")


def read_sql(name: str) -> str:
    """Text of the shipped SQL file ``name`` (relative to the sql folder, e.g. ``queries/units_per_area.sql``)."""
    return (sql_dir() / name).read_text(encoding="utf-8")


def example_queries() -> dict[str, str]:
    """The example queries shipped in ``sql/queries``, by file stem."""
    folder = sql_dir() / "queries"
    return {path.stem: path.read_text(encoding="utf-8") for path in sorted(folder.glob("*.sql"))}
