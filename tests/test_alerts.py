"""On-call hears once when data stops or a source breaks, again on renotify, and once when
it is fixed; metrics and probes answer over HTTP. freezegun drives the clock."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from freezegun import freeze_time

from connector.config.load import parse
from connector.config.settings import Settings
from connector.service.app import App
from tests.conftest import SECRETS_SEEN, TOKEN_ENV, source
from tests.factories import audit
from tests.fakes.slack_server import FakeSlack
from tests.fakes.webhook_receiver import WebhookReceiver

T = 1_800_000_000


def at(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


HOOK_SECRET = "/services/T000/B000/s3cr3tw3bh00k"
ROUTING_KEY = "pd-routing-key-0123456789abcdef"


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Any:
    with WebhookReceiver() as rx:
        monkeypatch.setenv("ALERT_SLACK_URL", rx.url(HOOK_SECRET))
        monkeypatch.setenv("ALERT_WEBHOOK_URL", rx.url("/generic"))
        monkeypatch.setenv("ALERT_PD_KEY", ROUTING_KEY)
        SECRETS_SEEN.update({rx.url(HOOK_SECRET), ROUTING_KEY})
        yield rx


def settings(tmp_path: Path, slack: FakeSlack, rx: WebhookReceiver, **src: Any) -> Settings:
    return parse(
        {
            "state": {"path": str(tmp_path / "state.db")},
            "output": {"type": "local", "path": str(tmp_path / "out")},
            "metrics": {"port": 0},
            "alerts": {
                "no_events_after_seconds": 3600,
                "renotify_seconds": 1800,
                "failing_after_failures": 2,
                "delivery_attempts": 2,
                "destinations": [
                    {"type": "slack_webhook", "url": {"env": "ALERT_SLACK_URL"}},
                    {
                        "type": "pagerduty",
                        "routing_key": {"env": "ALERT_PD_KEY"},
                        "url": rx.url("/pd"),
                    },
                    {"type": "webhook", "url": {"env": "ALERT_WEBHOOK_URL"}},
                ],
            },
            "sources": [source(slack, log_types=["audit"], **src)],
        }
    )


def sent(rx: WebhookReceiver) -> Counter[tuple[str, str]]:
    """(destination path, status) for every delivery so far."""
    out: Counter[tuple[str, str]] = Counter()
    for r in rx.requests:
        body = r.body
        if r.path == "/pd":
            status = {"trigger": "trigger", "resolve": "resolve"}[body["event_action"]]
            status = body["payload"]["custom_details"]["status"] if status == "trigger" else status
        elif r.path == "/generic":
            status = body["status"]
        else:
            status = next(
                s
                for s in ("trigger", "renotify", "resolve")
                if s in _SLACK_HEADERS
                and _SLACK_HEADERS[s] in body["attachments"][0]["blocks"][0]["text"]["text"]
            )
        out[(r.path.replace(HOOK_SECRET, "/slack"), status)] += 1
    return out


_SLACK_HEADERS = {"trigger": "Triggered", "renotify": "Still firing", "resolve": "Resolved"}


def poll(app: App) -> None:
    app.poll("acme", "audit")
    assert app.dispatcher.flush(10)


def test_no_events_fires_renotifies_and_resolves_once_per_destination(
    slack: FakeSlack, tmp_path: Path, receiver: WebhookReceiver
) -> None:
    slack.add_audit(audit(i, T - 10) for i in range(3))
    with freeze_time(at(T)) as frozen:
        app = App(settings(tmp_path, slack, receiver))
        poll(app)
        frozen.move_to(at(T + 3599.0))
        poll(app)
        assert not receiver.requests
        frozen.move_to(at(T + 3600.0))
        poll(app)
        poll(app)
        app.close()

        app = App(settings(tmp_path, slack, receiver))
        frozen.move_to(at(T + 3600.0 + 1000))
        poll(app)
        assert sent(receiver) == {
            ("/slack", "trigger"): 1,
            ("/pd", "trigger"): 1,
            ("/generic", "trigger"): 1,
        }
        frozen.move_to(at(T + 3600.0 + 1800))
        poll(app)
        slack.add_audit([audit(99, T + 5450)])
        frozen.move_to(at(T + 6000.0))
        poll(app)
        app.close()

    assert sent(receiver) == {
        (path, status): 1
        for path in ("/slack", "/pd", "/generic")
        for status in ("trigger", "renotify", "resolve")
    }
    pd = [r.body for r in receiver.requests if r.path == "/pd"]
    assert {b["dedup_key"] for b in pd} == {"acme:audit:no_events"}
    assert all(b["routing_key"] == ROUTING_KEY for b in pd)


def test_revoked_token_alerts_within_one_poll_and_resolves_when_fixed(
    tmp_path: Path, receiver: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    with (
        FakeSlack(tokens=("xoxp-first-token", "xoxp-second-token")) as slack,
        freeze_time(at(T)) as frozen,
    ):
        SECRETS_SEEN.update({"xoxp-first-token", "xoxp-second-token"})
        monkeypatch.setenv(TOKEN_ENV, "xoxp-first-token")
        slack.add_audit([audit(1, T - 5)])
        app = App(settings(tmp_path, slack, receiver))
        try:
            poll(app)
            slack.revoke("xoxp-first-token")
            frozen.tick(60)
            poll(app)
            assert sent(receiver)[("/pd", "trigger")] == 1
            trigger = next(r.body for r in receiver.requests if r.path == "/generic")
            assert trigger["rule"] == "source_failing" and "invalid_auth" in trigger["detail"]

            frozen.tick(60)
            requests = slack.count("logs")
            poll(app)
            assert app.store.status("acme", "audit")["state"] == "parked", "parked until retry"
            assert slack.count("logs") == requests, "a parked source does not call Slack"

            monkeypatch.setenv(TOKEN_ENV, "xoxp-second-token")
            frozen.tick(60)
            poll(app)
            assert app.store.status("acme", "audit")["state"] == "ok", (
                "resumed when the secret changed"
            )
        finally:
            app.close()
    statuses = [r.body["status"] for r in receiver.requests if r.path == "/generic"]
    assert statuses == ["trigger", "resolve"]


def test_a_parked_source_is_retried_after_park_retry_seconds(
    tmp_path: Path, receiver: WebhookReceiver
) -> None:
    with FakeSlack(tokens=()) as slack, freeze_time(at(T)) as frozen:
        app = App(settings(tmp_path, slack, receiver, park_retry_seconds=120))
        try:
            poll(app)
            assert app.store.status("acme", "audit")["state"] == "parked"
            requests = slack.count("logs")
            frozen.tick(60)
            poll(app)
            assert slack.count("logs") == requests
            frozen.tick(60)
            poll(app)
            assert slack.count("logs") > requests, "retried after park_retry_seconds"
            assert app.store.status("acme", "audit")["since"] == T + 120
        finally:
            app.close()


def test_quarantine_alert(slack: FakeSlack, tmp_path: Path, receiver: WebhookReceiver) -> None:
    bad = audit(1, 0)
    del bad["id"]
    with freeze_time(at(T)):
        slack.add_audit([bad | {"date_create": T - 5}])
        app = App(settings(tmp_path, slack, receiver))
        try:
            poll(app)
        finally:
            app.close()
    generic = [r.body for r in receiver.requests if r.path == "/generic"]
    assert [(g["rule"], g["status"]) for g in generic] == [("quarantine", "trigger")]


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def test_metrics_and_probes(slack: FakeSlack, tmp_path: Path, receiver: WebhookReceiver) -> None:
    import time

    now = int(time.time())
    slack.add_audit(audit(i, now - 5) for i in range(4))
    slack.fail_next("logs", "429", retry_after=0)
    app = App(settings(tmp_path, slack, receiver))
    try:
        server = app.start_health()
        assert server is not None
        base = f"http://127.0.0.1:{server.port}"
        assert get(base + "/healthz")[0] == 503, "scheduler not running yet"
        app.scheduler_running = True
        assert get(base + "/healthz")[0] == 200
        deadline = time.monotonic() + 10
        while (ready := get(base + "/readyz"))[0] != 200 and time.monotonic() < deadline:
            time.sleep(0.05)
        status, body = ready
        assert status == 200 and '"state":true' in body and '"sink":true' in body
        app.once()
        status, text = get(base + "/metrics")
    finally:
        app.close()
    labels = 'log_type="audit",source_id="acme"'
    assert f"slack_connector_events_landed_total{{{labels}}} 4.0" in text
    assert f"slack_connector_events_fetched_total{{{labels}}} 4.0" in text
    assert (
        'slack_connector_api_requests_total{method="logs",source_id="acme",status="429"} 1.0'
        in text
    )
    assert (
        'slack_connector_api_requests_total{method="logs",source_id="acme",status="200"} 1.0'
        in text
    )
    assert 'slack_connector_rate_limited_total{method="logs",source_id="acme"} 1.0' in text
    assert f"slack_connector_last_success_timestamp_seconds{{{labels}}}" in text
    assert "slack_connector_poll_duration_seconds_count" in text
    assert "xoxp" not in text
