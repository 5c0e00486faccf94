from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from npc_lake.cli import main
from npc_lake.export.validate import validate_nwb
from npc_lake.testing import write_synthetic_nwb

from conftest import realdata_path


def test_exported_session_is_ok_for_dandi_and_the_cli_says_so(tmp_path: Path) -> None:
    source = write_synthetic_nwb(tmp_path / "nwb", n_sessions=1, n_units=10, duration_s=120.0, seed=2)[0]
    lake = str(tmp_path / "lake")
    runner = CliRunner()
    assert runner.invoke(main, ["ingest", str(source), "--lake", lake]).exit_code == 0
    out = tmp_path / "out.nwb"
    result = runner.invoke(main, ["export-nwb", source.stem, "-o", str(out), "--lake", lake])
    assert result.exit_code == 0, result.output
    assert "ok for DANDI" in result.output and "NOT ok" not in result.output
    report = validate_nwb(out)
    assert report.ok and report.counts["CRITICAL"] == 0 and report.counts["PYNWB_VALIDATION"] == 0
    result = runner.invoke(main, ["validate", str(out)])
    assert result.exit_code == 0 and "ok for DANDI" in result.output


def test_a_file_with_critical_findings_fails_validation() -> None:
    path = realdata_path("nwb", "dandi-cli", "sub-anm369963_ses-20170228.nwb")
    report = validate_nwb(path)
    assert not report.ok and report.counts["CRITICAL"] >= 1
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 1 and "CRITICAL" in result.output and "NOT ok for DANDI" in result.output


def test_validate_missing_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["validate", str(tmp_path / "nope.nwb")])
    assert result.exit_code == 1 and "nope.nwb" in result.output


def test_subject_fields_on_the_command_line_make_a_third_party_export_ok(tmp_path: Path) -> None:
    source = realdata_path("nwb", "pynapple", "phy__A8604-211122.nwb")
    lake, out = str(tmp_path / "lake"), str(tmp_path / "out.nwb")
    runner = CliRunner()
    assert runner.invoke(main, ["ingest", str(source), "--lake", lake]).exit_code == 0
    result = runner.invoke(main, ["export-nwb", "A8604-211122", "-o", out, "--lake", lake])
    assert result.exit_code == 1 and "check_subject_exists" in result.output  # the file has no subject
    result = runner.invoke(main, ["export-nwb", "A8604-211122", "-o", out, "--lake", lake, "--overwrite",
                                  "--subject", "subject_id=A8604", "--subject", "species=Mus musculus",
                                  "--subject", "sex=U", "--subject", "age=P8W/"])
    assert result.exit_code == 0 and "NOT ok" not in result.output, result.output
    result = runner.invoke(main, ["export-nwb", "A8604-211122", "-o", out, "--lake", lake, "--subject", "age"])
    assert result.exit_code == 2 and "'age' is not FIELD=VALUE" in result.output
