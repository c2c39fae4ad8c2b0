"""Against an S3-compatible store that is not moto (s3rver, in Node, on 127.0.0.1), over
HTTP and over TLS with a CA made for the test, as deployments run the connector.

botocore ≥ 1.36 sends PutObject over TLS as `aws-chunked` with a trailing CRC32 unless
told otherwise, and s3rver (like other stores) keeps the chunk framing as the object's
body. With an `endpoint_url` the connector asks for checksums only when required, so
`once` lands exactly once; turning botocore's default back on makes that same store
mangle every upload, and `check` and the writer must both catch it.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import orjson
import pytest
from botocore.config import Config

from connector.cli.main import main
from tests.factories import audit, cli_source, config_file, now
from tests.fakes.s3rver import ACCESS_KEY, Store, s3rver
from tests.fakes.slack_server import FakeSlack

EVENTS = 120
PREFIX = "logs/slack"


def _s3rver_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """s3rver's own account; boto3's default session (which keeps the credentials it
    resolved first, moto's) starts afresh."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", ACCESS_KEY)
    monkeypatch.delenv("AWS_CA_BUNDLE", raising=False)
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)


@pytest.fixture(params=["http", "tls"])
def store(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Store]:
    _s3rver_credentials(monkeypatch)
    with s3rver(tmp_path / "store", "landing", tls=request.param == "tls") as running:
        yield running


@pytest.fixture
def tls_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    _s3rver_credentials(monkeypatch)
    with s3rver(tmp_path / "store", "landing", tls=True) as running:
        yield running


def config(
    tmp_path: Path,
    slack: FakeSlack,
    store: Store,
    state: dict[str, Any] | None = None,
    **output: Any,
) -> str:
    table = {
        "type": "s3",
        "bucket": store.bucket,
        "prefix": PREFIX,
        "region": "us-east-1",
        "endpoint_url": store.endpoint,
        "ca_bundle": store.ca_file,
        "max_attempts": 2,
        **output,
    }
    source = cli_source(slack, retry_backoff_seconds=0.01)
    tables = {"state": state} if state else {}
    return str(config_file(tmp_path, source, output=table, **tables))


def landed(store: Store) -> tuple[list[dict[str, Any]], int]:
    """Every row under the prefix, read back as a SIEM would, and how many objects."""
    client = boto3.client(
        "s3",
        endpoint_url=store.endpoint,
        region_name="us-east-1",
        verify=store.ca_file,
        config=Config(response_checksum_validation="when_required"),
    )
    rows: list[dict[str, Any]] = []
    listed = client.list_objects_v2(Bucket=store.bucket, Prefix=f"{PREFIX}/Slack.")
    keys = [o["Key"] for o in listed.get("Contents", [])]
    for key in keys:
        body = client.get_object(Bucket=store.bucket, Key=key)["Body"].read()
        rows += [orjson.loads(line) for line in gzip.decompress(body).splitlines()]
    return rows, len(keys)


def feed(slack: FakeSlack) -> None:
    t = now()
    slack.add_audit(audit(i, t - 30 * i) for i in range(1, EVENTS + 1))


def test_once_lands_every_row_exactly_once(
    slack: FakeSlack, tmp_path: Path, store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    feed(slack)
    path = config(tmp_path, slack, store)
    assert main(["once", "--config", path]) == 0, capsys.readouterr().err
    assert main(["once", "--config", path]) == 0, capsys.readouterr().err
    rows, objects = landed(store)
    ids = [r["id"] for r in rows]
    assert objects >= 1
    assert len(ids) == EVENTS and len(set(ids)) == EVENTS


def test_check_writes_reads_back_and_reports_what_the_store_enforces(
    slack: FakeSlack, tmp_path: Path, store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    path = config(tmp_path, slack, store)
    assert main(["check", "--config", path]) == 0
    out = capsys.readouterr().out
    assert "written and read back intact" in out
    assert "the store ignores If-None-Match" in out, "s3rver does not fence PutObject"


def test_check_fails_when_replicas_would_rely_on_a_fence_the_store_lacks(
    slack: FakeSlack,
    tmp_path: Path,
    store: Store,
    moto_endpoint: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Several replicas need the store to refuse the late upload of an object recovery
    settled as never written (`If-None-Match: *`); s3rver accepts it, so `check` fails."""
    from tests.conftest import dynamodb_options

    table = dynamodb_options(moto_endpoint).table
    state = {"type": "dynamodb", "table": table, "region": "us-east-1"}
    path = config(tmp_path, slack, store, {**state, "endpoint_url": moto_endpoint})
    assert main(["check", "--config", path]) == 1
    out = capsys.readouterr().out
    assert "FAIL output s3:" in out
    assert "replicas need the store to refuse an upload that recovery settled" in out


def test_a_store_that_mangles_uploads_fails_check_and_every_write(
    slack: FakeSlack, tmp_path: Path, tls_store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    """botocore's default (`when_supported`) over TLS: s3rver keeps the aws-chunked
    framing. `check` fails naming the fix; `once` fails (exit 1) and commits nothing, no
    object that holds the framing stays readable as data; back on the default, the same
    rows land exactly once."""
    feed(slack)
    mangled = config(tmp_path, slack, tls_store, checksum="when_supported")
    assert main(["check", "--config", mangled]) == 1
    out = capsys.readouterr().out
    assert "FAIL output s3: s3: the store mangles uploads" in out
    assert 'checksum = "when_required"' in out

    assert main(["once", "--config", mangled]) == 1
    assert "stored corrupted (ETag differs from the body sent)" in capsys.readouterr().err
    assert landed(tls_store) == ([], 0), "deleted: a tombstone would have been mangled too"

    fixed = config(tmp_path, slack, tls_store)
    assert main(["once", "--config", fixed]) == 0, capsys.readouterr().err
    rows, _ = landed(tls_store)
    assert sorted(r["id"] for r in rows) == sorted({r["id"] for r in rows})
    assert len(rows) == EVENTS


def test_search_reads_a_store_behind_a_private_ca(
    slack: FakeSlack, tmp_path: Path, tls_store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    """DuckDB's httpfs reads neither boto3's settings nor AWS_CA_BUNDLE: the CA is passed."""
    feed(slack)
    path = config(tmp_path, slack, tls_store)
    assert main(["once", "--config", path]) == 0, capsys.readouterr().err
    capsys.readouterr()
    code = main(["search", "--config", path, "--format", "json", "user7@example.com"])
    out = capsys.readouterr()
    assert code == 0, out.err
    found = [orjson.loads(line) for line in out.out.splitlines() if line.strip()]
    assert [r["id"] for r in found] == [audit(7, 0)["id"]]
