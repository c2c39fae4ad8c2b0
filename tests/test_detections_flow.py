"""Slack's anomaly events as alerts, end to end over real sockets: the fake Slack's audit
API → the daemon's pipeline → `slack_anomaly` alerts at a webhook receiver. Each anomaly
alerts once across a restart, a reset that lands everything again, and two replicas
sharing one DynamoDB table where the first wrote nothing; bursts are one alert."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from connector.config.load import parse
from connector.config.settings import Settings
from connector.sinks.base import Sink, SinkError
from tests.conftest import alert_hook, dynamodb_options, once, read_local, source
from tests.factories import anomaly, audit, now
from tests.fakes.slack_server import FakeSlack
from tests.fakes.webhook_receiver import WebhookReceiver

HOOK = "/hooks/anomaly-s3cr3t"


@pytest.fixture
def rx(monkeypatch: pytest.MonkeyPatch) -> Iterator[WebhookReceiver]:
    with alert_hook(monkeypatch, "ANOMALY_HOOK_URL", HOOK) as receiver:
        yield receiver


def settings(tmp_path: Path, slack: FakeSlack, state: Any = None, **anomaly_cfg: Any) -> Settings:
    return parse(
        {
            "state": state or {"path": str(tmp_path / "state.db")},
            "output": {"type": "local", "path": str(tmp_path / "out")},
            "alerts": {
                "no_events_after_seconds": 0,
                "delivery_attempts": 1,
                "destinations": [{"type": "webhook", "url": {"env": "ANOMALY_HOOK_URL"}}],
            },
            "detections": {"anomaly": anomaly_cfg},
            "sources": [source(slack, log_types=["audit"], page_size=3)],
        }
    )


def anomalies(rx: WebhookReceiver) -> list[dict[str, Any]]:
    return [b for b in rx.bodies if b.get("rule") == "slack_anomaly"]


def _org(slack: FakeSlack, t: int) -> None:
    """Ordinary events, a burst of three for bob, one tor anomaly for carol, one with no
    reason for dave: three alerts."""
    slack.add_audit(audit(i, t - 600 + i) for i in range(1, 20))
    slack.add_audit(anomaly(100 + i, t - 500 + 60 * i, email="bob@example.com") for i in range(3))
    slack.add_audit([anomaly(200, t - 400, ("tor", "ip_address"), email="carol@example.com")])
    slack.add_audit([anomaly(300, t - 300, None, email="dave@example.com")])


def test_each_anomaly_alerts_once_across_a_restart_and_a_reset(
    slack: FakeSlack, tmp_path: Path, rx: WebhookReceiver
) -> None:
    t = now()
    _org(slack, t)
    cfg = settings(tmp_path, slack)

    [outcome] = once(cfg)

    assert outcome.ok, outcome.detail
    got = {a["context"]["user"]: a for a in anomalies(rx)}
    assert sorted(got) == ["bob@example.com", "carol@example.com", "dave@example.com"]
    assert len(anomalies(rx)) == 3
    bob, carol, dave = got["bob@example.com"], got["carol@example.com"], got["dave@example.com"]
    assert bob["context"]["count"] == "3" and bob["severity"] == "low"
    assert bob["summary"] == "Slack anomaly: bob@example.com — asn, ip_address (3 anomalies)"
    assert carol["summary"] == "Slack anomaly: carol@example.com — tor, ip_address"
    assert carol["severity"] == "high" and carol["status"] == "trigger"
    assert dave["summary"] == "Slack anomaly: dave@example.com — no reason given"
    landed = read_local(tmp_path / "out")
    assert sum(1 for r in landed if r["action"] == "anomaly") == 5  # nothing dropped

    slack.add_audit([anomaly(400, t - 10, ("excessive_downloads",), email="erin@example.com")])
    once(cfg)  # a restart: only the new one
    assert [a["context"]["user"] for a in anomalies(rx)][3:] == ["erin@example.com"]

    store = cfg.state.open()  # what `state reset --log-type audit` does
    assert store.reset("acme", "audit")
    store.close()
    [again] = once(cfg)  # everything lands again
    assert again.ok and again.result.written == 25
    assert len(anomalies(rx)) == 4


class Failing(Sink):
    """A replica whose uploads fail after it has seen the rows: it commits nothing."""

    @classmethod
    def from_config(cls, cfg: Any) -> Sink:
        return cls()

    def put(self, key: str, body: bytes, check_lease: Callable[[], None] | None = None) -> None:
        raise SinkError("disk on fire")

    def exists(self, key: str, size: int | None = None) -> bool:
        return False

    def check(self) -> str:
        return "failing"


def test_two_replicas_alert_once_when_the_second_lands_what_the_first_could_not(
    slack: FakeSlack, tmp_path: Path, rx: WebhookReceiver, moto_endpoint: str
) -> None:
    t = now()
    _org(slack, t)
    table = dynamodb_options(moto_endpoint)
    state = {"type": "dynamodb", "table": table.table, "region": "us-east-1",
             "endpoint_url": moto_endpoint, "max_attempts": 2}  # fmt: skip
    first = settings(tmp_path / "a", slack, {**state, "replica_id": "a"})
    second = settings(tmp_path / "b", slack, {**state, "replica_id": "b"})

    [failed] = once(first, sink=Failing())
    assert not failed.ok
    assert len(anomalies(rx)) == 3

    [landed] = once(second)
    assert landed.ok, landed.detail
    assert landed.result.written == 24
    assert len(anomalies(rx)) == 3  # the second replica landed them and alerted on none
