"""The lake on a real S3 server: same rows and answers as a local lake, credentials never leak."""

from __future__ import annotations

import uuid
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

import npc_lake
from npc_lake.analysis import psth
from npc_lake.cli import main
from npc_lake.errors import NpcLakeError
from npc_lake.lake import Lake, read_log
from npc_lake.pipeline import ingest
from npc_lake.schema import SESSION_TABLES
from npc_lake.testing import write_synthetic_nwb

QUERIES = (
    "SELECT session_id, count(*) AS n FROM units WHERE default_qc GROUP BY 1 ORDER BY 1",
    "SELECT structure, count(*) AS n, sum(num_spikes) AS spikes FROM units GROUP BY 1 ORDER BY 1",
    "SELECT session_id, block_index, avg(is_hit::INT) AS hit FROM trials GROUP BY 1, 2 ORDER BY 1, 2",
    "SELECT count(*) AS n, min(spike_time) AS first, max(spike_time) AS last FROM spike_times",
)


@pytest.fixture(scope="module")
def nwb_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return write_synthetic_nwb(tmp_path_factory.mktemp("nwb"), n_sessions=2, n_units=40, duration_s=120.0, seed=7)


def test_s3_lake_gives_the_same_rows_and_answers_as_a_local_lake(s3_env, nwb_files: list[Path],  # type: ignore[no-untyped-def]
                                                                 tmp_path: Path) -> None:
    remote = Lake.open(f"s3://lake/{uuid.uuid4().hex}")
    local = Lake.open(tmp_path / "lake")
    for path in nwb_files:
        assert ingest(path, lake=remote).status == "written"
        ingest(path, lake=local)
    for name in SESSION_TABLES:
        a = local.scan(name).collect()
        b = remote.scan(name).collect()
        if name == "sessions":
            a, b = a.drop("source_uri", "source_hash"), b.drop("source_uri", "source_hash")
        assert a.sort(a.columns[:3]).equals(b.sort(b.columns[:3])), name
    for query in QUERIES:
        assert npc_lake.run_sql(query, lake=local).equals(npc_lake.run_sql(query, lake=remote)), query
    units = local.scan("units").filter(pl.col("default_qc")).select("session_id", "unit_id").collect()
    events = (local.scan("trials").filter(pl.col("stim_name") == "vis1")
              .select("session_id", pl.col("stim_start_time").alias("event_time")).collect())
    assert psth(units, events, lake=local).equals(psth(units, events, lake=remote))
    assert ingest(nwb_files[0], lake=remote).status == "unchanged"


def test_credentials_never_appear_in_errors_logs_or_the_ingest_log(s3_env, nwb_files: list[Path],  # type: ignore[no-untyped-def]
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    secret = s3_env.secret_key
    uri = f"s3://lake/{uuid.uuid4().hex}"
    runner = CliRunner()
    result = runner.invoke(main, ["ingest", str(nwb_files[0]), "--lake", uri])
    assert result.exit_code == 0, result.output
    log = read_log(lake=uri)
    assert secret not in str(log.to_dicts()) and s3_env.access_key not in str(log.to_dicts())
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret[::-1])  # wrong: every request is refused
    result = runner.invoke(main, ["ingest", str(nwb_files[1]), "--lake", uri])
    assert result.exit_code == 1
    assert secret[::-1] not in result.output and secret not in result.output
    assert s3_env.access_key not in result.output and "SignatureDoesNotMatch" in result.output
    with pytest.raises(NpcLakeError) as caught:
        Lake.open(uri).scan("units").collect()
    assert secret[::-1] not in str(caught.value)


def upload(path: Path, uri: str) -> None:
    from npc_lake.sources.remote import _filesystem

    with _filesystem().open_output_stream(uri.split("://", 1)[1]) as out:
        out.write(path.read_bytes())


def test_nwb_files_on_s3_ingest_like_local_ones_without_a_full_download(s3_env, nwb_files: list[Path],  # type: ignore[no-untyped-def]
                                                                        tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from npc_lake.sources import remote
    from npc_lake.sources.nwb import NwbSource

    prefix = f"s3://raw/{uuid.uuid4().hex}"
    for path in nwb_files:
        upload(path, f"{prefix}/{path.name}")
    monkeypatch.setattr(remote, "BLOCK_BYTES", 64 * 1024)
    first = f"{prefix}/{nwb_files[0].name}"
    reader = remote.RangeReader(first)
    reader.close()
    opened = []
    original = remote.RangeReader.__init__

    def spy(self: remote.RangeReader, uri: str) -> None:
        original(self, uri)
        opened.append(self)

    monkeypatch.setattr(remote.RangeReader, "__init__", spy)
    assert NwbSource(first).session_id == nwb_files[0].stem
    fetched = sum(r.requests for r in opened) * remote.BLOCK_BYTES
    assert fetched < nwb_files[0].stat().st_size / 2  # metadata only: a few ranges, not the file
    local = Lake.open(tmp_path / "local")
    for path in nwb_files:
        ingest(path, lake=local)
    remote_lake = tmp_path / "from_s3"
    result = CliRunner().invoke(main, ["ingest", f"{prefix}/*.nwb", "--lake", str(remote_lake)])
    assert result.exit_code == 0, result.output
    assert "2 of 2 sources" in result.output
    for name in ("units", "trials", "spike_times", "electrodes"):
        a, b = local.scan(name).collect(), Lake.open(remote_lake).scan(name).collect()
        assert a.sort(a.columns[:3]).equals(b.sort(b.columns[:3])), name
    sessions = Lake.open(remote_lake).scan("sessions").collect()
    assert sessions["source_uri"].str.starts_with(prefix).all()
    assert ingest(first, lake=Lake.open(remote_lake)).status == "unchanged"
    with pytest.raises(NpcLakeError, match="no such object"):
        ingest(f"{prefix}/missing.nwb", lake=local)


def test_storage_errors_are_one_line_without_signature_material(monkeypatch: pytest.MonkeyPatch) -> None:
    from npc_lake.errors import plain_message, redact, storage_reason

    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s3cr3t-value-123")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE42")
    body = ("GET failed\n  -> 403 Forbidden\n<?xml version='1.0'?><Error><Code>SignatureDoesNotMatch</Code>"
            "<Message>The signature does not match.</Message><AWSAccessKeyId>AKIAEXAMPLE42</AWSAccessKeyId>"
            "<StringToSign>AWS4-HMAC-SHA256 ...</StringToSign><SignatureProvided>abc</SignatureProvided></Error>")
    assert storage_reason(OSError(body)) == "GET failed (SignatureDoesNotMatch: The signature does not match.)"
    leaked = redact(f"key s3cr3t-value-123 id AKIAEXAMPLE42 {body}", ["token-xyz-9"])
    assert "s3cr3t" not in leaked and "AKIAEXAMPLE42" not in leaked and "AWS4-HMAC" not in leaked
    assert "token-xyz-9" not in redact("a token-xyz-9 b", ["token-xyz-9"])
    assert "s3cr3t" not in plain_message(NpcLakeError("bad s3cr3t-value-123"))
