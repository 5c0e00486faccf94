"""The README stays true: its test command is CI's, every command is documented, the table reference is current."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from npc_lake.cli import main
from npc_lake.schema.docs import reference_markdown

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_ci_runs_the_readme_test_command() -> None:
    ci_lines = [line for line in (ROOT / ".ci" / "run").read_text().splitlines()
                if line and not line.startswith(("#", "set ", "cd "))]
    assert len(ci_lines) == 1
    assert f"    {ci_lines[0]}\n" in README


def test_readme_table_reference_is_generated_from_schema() -> None:
    assert reference_markdown() in README, "regenerate: schema.docs.replace_reference"


def test_every_command_is_documented_and_has_help() -> None:
    runner = CliRunner()
    for name, command in main.commands.items():
        assert command.help, f"{name} has no help text"
        result = runner.invoke(main, [name, "--help"])
        assert result.exit_code == 0, result.output
        assert re.search(rf"npc-lake {name}\b", README), f"README does not show `npc-lake {name}`"
