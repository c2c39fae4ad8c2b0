"""Operating the DynamoDB store: `state init`, `state show` beside a running replica,
config errors that name the field, and `/metrics` showing the leases a replica holds."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import boto3
import httpx
import orjson
import pytest

from connector.cli.main import main
from connector.config.load import load
from connector.paging.window import AuditCheckpoint
from connector.service.app import App
from tests.factories import cli_source, config_file
from tests.fakes.slack_server import FakeSlack


def write_config(
    tmp_path: Path, endpoint: str, slack: FakeSlack, state: dict[str, Any] | None = None
) -> Path:
    state = state or {
        "type": "dynamodb",
        "table": f"state-{uuid.uuid4().hex[:10]}",
        "region": "us-east-1",
        "endpoint_url": endpoint,
        "lease_seconds": 5,
    }
    source = cli_source(
        slack, log_types=None, audit_calls_per_minute=None, web_api_url=slack.web_api_url
    )
    return config_file(tmp_path, source, state=state, metrics={"port": 0})


def table_of(path: Path) -> Any:
    return load(path).state


def test_state_init_creates_the_table_with_keys_and_ttl_once(
    tmp_path: Path, moto_endpoint: str, slack: FakeSlack, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_config(tmp_path, moto_endpoint, slack)
    name = table_of(path).table
    assert main(["state", "init", "--config", str(path)]) == 0
    assert f"table {name} created; TTL on expires_at" in capsys.readouterr().out
    db = boto3.client("dynamodb", endpoint_url=moto_endpoint, region_name="us-east-1")
    table = db.describe_table(TableName=name)["Table"]
    assert {(k["AttributeName"], k["KeyType"]) for k in table["KeySchema"]} == {
        ("pk", "HASH"),
        ("sk", "RANGE"),
    }
    ttl = db.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "expires_at")
    assert main(["state", "init", "--config", str(path)]) == 0
    assert "already exists" in capsys.readouterr().out


def test_state_show_reads_beside_a_running_replica_without_taking_a_lease(
    tmp_path: Path, moto_endpoint: str, slack: FakeSlack, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_config(tmp_path, moto_endpoint, slack)
    assert main(["state", "init", "--config", str(path)]) == 0
    replica = table_of(path).open()
    streams = [("acme", lt) for lt in ("audit", "access", "integration")]
    replica.claim(streams)
    try:
        typed = AuditCheckpoint(newest=65, next_oldest=5).dump()
        replica.commit("acme", "audit", keys=[bytes(16)], checkpoint=typed)
        replica.set_status("acme", "audit", {"state": "ok"})
        capsys.readouterr()
        assert main(["state", "show", "--config", str(path)]) == 0
        rows = [orjson.loads(x) for x in capsys.readouterr().out.splitlines()]
        audit = next(r for r in rows if r["log_type"] == "audit")
        assert audit["checkpoint"] == {
            "newest": "1970-01-01T00:01:05Z",
            "next_oldest": "1970-01-01T00:00:05Z",
            "version": 1,
        }
        assert audit["status"] == {"state": "ok"}
        assert audit["seen"] == 1
        assert audit["lease"]["owner"] == replica.replica_id
        assert audit["lease"]["epoch"] == 1
        assert 0 <= audit["lease"]["seconds_since_renewal"] <= 10
        assert {r["lease"]["owner"] for r in rows} == {replica.replica_id}
        assert all(replica.owns(*s) for s in streams)
        replica.commit("acme", "audit", checkpoint=AuditCheckpoint(newest=66, next_oldest=6).dump())
    finally:
        replica.close()


def test_a_dynamodb_state_without_a_table_is_a_config_error_naming_the_field(
    tmp_path: Path, moto_endpoint: str, slack: FakeSlack, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_config(tmp_path, moto_endpoint, slack, state={"type": "dynamodb"})
    assert main(["state", "show", "--config", str(path)]) == 2
    assert "state.table: Field required" in capsys.readouterr().err
    path = write_config(tmp_path, moto_endpoint, slack, state={"type": "etcd"})
    assert main(["state", "show", "--config", str(path)]) == 2
    assert "state.type: unknown state store 'etcd'" in capsys.readouterr().err
    bad = {"type": "dynamodb", "table": "t-1", "lease_seconds": 4, "renew_seconds": 3}
    path = write_config(tmp_path, moto_endpoint, slack, state=bad)
    assert main(["state", "show", "--config", str(path)]) == 2
    assert "state.renew_seconds: must be at most half of lease_seconds" in capsys.readouterr().err


def test_metrics_show_the_leases_this_replica_holds(
    tmp_path: Path, moto_endpoint: str, slack: FakeSlack
) -> None:
    path = write_config(tmp_path, moto_endpoint, slack)
    settings = load(path)
    settings.state.init()
    app = App(settings)
    try:
        app.claim()
        health = app.start_health()
        assert health is not None
        body = httpx.get(f"http://127.0.0.1:{health.port}/metrics", timeout=5).text
        line = f'slack_connector_leases_held{{replica="{app.store.replica_id}"}} 3.0'
        assert line in body
        rounds = "slack_connector_lease_round_seconds_count"
        deadline = time.monotonic() + 10
        while rounds not in body and time.monotonic() < deadline:
            time.sleep(0.2)
            body = httpx.get(f"http://127.0.0.1:{health.port}/metrics", timeout=5).text
        assert rounds in body, "each renewal round reports how late it finished"
    finally:
        app.close()


def test_backfill_on_dynamodb_takes_the_audit_lease_or_refuses_beside_a_replica(
    tmp_path: Path, moto_endpoint: str, slack: FakeSlack, capsys: pytest.CaptureFixture[str]
) -> None:
    from collections import Counter

    from tests.conftest import read_local
    from tests.factories import audit, now

    t = now()
    slack.add_audit(audit(i, t - 3 * 86400 + i * 600) for i in range(3 * 144))
    path = write_config(tmp_path, moto_endpoint, slack)
    assert main(["state", "init", "--config", str(path)]) == 0
    assert main(["once", "--config", str(path)]) == 0
    since = str(t - 4 * 86400)
    replica = table_of(path).open()
    replica.claim([("acme", "audit")])
    try:
        capsys.readouterr()
        assert main(["backfill", "--config", str(path), "--source", "acme", "--since", since]) == 1
        assert "a running replica holds the audit lease of 'acme'" in capsys.readouterr().err
    finally:
        replica.close()
    assert main(["backfill", "--config", str(path), "--source", "acme", "--since", since]) == 0
    ids = Counter(r["id"] for r in read_local(tmp_path / "out", "slack/Slack.AuditLogs"))
    assert len(ids) == 3 * 144 and set(ids.values()) == {1}


def test_check_warns_when_a_held_lease_was_not_renewed_in_time(
    tmp_path: Path, moto_endpoint: str, slack: FakeSlack, capsys: pytest.CaptureFixture[str]
) -> None:
    """A holder whose renewals run late (or that just died) is worth a look, not a
    failure: `check` says WARN, names the stream and holder, and still exits 0."""
    from connector import clock

    path = write_config(tmp_path, moto_endpoint, slack)
    assert main(["state", "init", "--config", str(path)]) == 0
    options = table_of(path)
    db = boto3.client("dynamodb", endpoint_url=moto_endpoint, region_name="us-east-1")
    for log_type, age in (("audit", 60), ("access", 0)):
        db.put_item(
            TableName=options.table,
            Item={
                "pk": {"S": "L"},
                "sk": {"S": f"acme#{log_type}"},
                "owner": {"S": "ghost"},
                "epoch": {"N": "1"},
                "counter": {"N": "4"},
                "renewed_at": {"N": str(clock.now_ts() - age)},
            },
        )
    capsys.readouterr()
    assert main(["check", "--config", str(path)]) == 0
    out = capsys.readouterr().out
    state = next(x for x in out.splitlines() if " state: " in x)
    assert state.startswith("WARN state: ")
    assert "acme audit held by ghost renewed 6" in state
    assert "acme access" not in state
