"""One job: ok, unchanged, failed (terminal, not retried), transient errors retried; all recorded."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from npc_lake.distributed import IngestJob, is_transient, new_run_id, run_job
from npc_lake.distributed.status import ingest_status
from npc_lake.errors import LakeError, SessionError, SourceError
from npc_lake.lake import Lake


def job(source: Path | str, lake: Lake, run_id: str, **extra: object) -> IngestJob:
    return IngestJob(source_uri=str(source), lake_uri=lake.uri, run_id=run_id, backoff_s=0.01, **extra)  # type: ignore[arg-type]


def test_transient_errors_are_told_from_terminal_ones() -> None:
    assert is_transient(LakeError("writing table units of s3://l failed: SlowDown (503)"))
    assert is_transient(SourceError("s3://raw/a.nwb", "cannot reach the object: connection refused"))
    assert is_transient(ConnectionResetError("reset by peer"))
    assert not is_transient(SourceError("a.nwb", "HDF5 error while reading (corrupt or truncated file?)"))
    assert not is_transient(SessionError("600001_2024-01-02", "spike times are not sorted"))
    assert not is_transient(ValueError("a bug"))


def test_a_job_records_its_attempts_and_outcome(corpus: tuple[list[Path], list[Path]], tmp_path: Path) -> None:
    good, corrupt = corpus
    lake = Lake.open(tmp_path / "lake")
    missing = run_job(job(tmp_path / "typo.nwb", lake, new_run_id()))
    assert missing.failed and "no such file" in (missing.error_message or "")
    assert lake.table_names() == []  # no lake is made only to record that nothing could be read
    first = run_job(job(good[1], lake, new_run_id()))  # makes the lake: only the outcome is recorded
    assert first.status == "ok" and lake.scan("ingest_runs").collect()["status"].to_list() == ["ok"]
    run_id = new_run_id()
    ok = run_job(job(good[0], lake, run_id))
    assert ok.status == "ok" and ok.attempt == 1 and ok.spike_rows > 0 and ok.ingest_id
    again = run_job(job(good[0], lake, new_run_id()))
    assert again.status == "unchanged" and again.spike_rows == 0
    bad = run_job(job(corrupt[0], lake, run_id))
    assert bad.failed and bad.attempt == 1 and bad.error_class == "SourceError" and bad.transient is False
    assert corrupt[0].name in (bad.error_message or "")
    runs = lake.scan("ingest_runs").collect().sort("recorded_at")
    assert runs.filter(run_id=run_id)["status"].to_list() == ["started", "ok", "started", "failed"]
    status = {r["source_uri"]: r for r in ingest_status(lake).iter_rows(named=True)}
    assert status[str(good[0])]["status"] == "unchanged" and status[str(good[0])]["session_id"] == ok.session_id
    assert status[str(corrupt[0])]["status"] == "failed"
    assert "truncated" in status[str(corrupt[0])]["error_message"]


def test_a_transient_error_is_retried_then_reported(corpus: tuple[list[Path], list[Path]], tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A source on an S3 endpoint nobody listens on: unreachable, so retried, then failed as transient."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: connections are refused
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "npc-test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "npc-test-secret")
    monkeypatch.setenv("AWS_ALLOW_HTTP", "true")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    lake = Lake.open(tmp_path / "lake")
    run_job(job(corpus[0][0], lake, new_run_id()))  # an existing lake, where attempts are recorded
    result = run_job(job("s3://raw/session.nwb", lake, new_run_id(), max_attempts=3))
    assert result.failed and result.transient and result.attempt == 3
    runs = lake.scan("ingest_runs").filter(run_id=result.run_id).collect()
    assert runs["status"].to_list().count("started") == 3
    assert "npc-test-secret" not in (result.error_message or "")
