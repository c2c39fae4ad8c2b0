"""Alert destinations and the dispatcher, against real sockets: a local HTTP receiver for
Slack / PagerDuty / generic webhooks and moto's server for SNS (delivered into SQS)."""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from pydantic import ValidationError

from connector.alerts.base import Alert, DeliveryError, Destination
from connector.alerts.destinations import build, kinds, options_model
from connector.alerts.destinations.pagerduty import PagerDuty
from connector.alerts.destinations.slack_webhook import SlackWebhook
from connector.alerts.destinations.sns import Sns, subject
from connector.alerts.destinations.webhook import Webhook
from connector.alerts.dispatch import Dispatcher
from tests.fakes.webhook_receiver import WebhookReceiver

HOOK_SECRET = "T0001/B0002/hooksecretXYZ123456"
ROUTING_KEY = "R0UT1NGKEY0123456789abcdef012345"
AUTH_VALUE = "Bearer s3cr3t-webhook-auth-token-42"

ALERT = Alert(
    key="acme/audit/stale",
    rule="stale",
    status="trigger",
    source_id="acme",
    source_label="Acme Corp",
    log_type="audit",
    summary="No audit events from Acme Corp for 2h",
    detail="The last event was read at 2024-01-01T00:00:00Z; polls succeed but return nothing.",
    since=1_704_067_200,
    hint="Check the token's auditlogs:read scope and the org's Audit Logs API plan.",
)


def alert(status: str = "trigger", **changes: Any) -> Alert:
    fields = {**ALERT.as_dict(), "status": status, **changes}
    return Alert(**fields)


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as server:
        yield server


@pytest.fixture
def other_receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as server:
        yield server


def hook_url(receiver: WebhookReceiver) -> str:
    return receiver.url(f"/services/{HOOK_SECRET}")


def slack_dest(
    receiver: WebhookReceiver, monkeypatch: pytest.MonkeyPatch, **extra: Any
) -> Destination:
    monkeypatch.setenv("ALERT_SLACK_URL", hook_url(receiver))
    opts = options_model("slack_webhook").model_validate(
        {"type": "slack_webhook", "url": {"env": "ALERT_SLACK_URL"}, **extra}
    )
    return build(opts)


def pd_dest(
    receiver: WebhookReceiver, monkeypatch: pytest.MonkeyPatch, **extra: Any
) -> Destination:
    monkeypatch.setenv("ALERT_PD_KEY", ROUTING_KEY)
    opts = options_model("pagerduty").model_validate(
        {
            "type": "pagerduty",
            "routing_key": {"env": "ALERT_PD_KEY"},
            "url": receiver.url("/v2/enqueue"),
            **extra,
        }
    )
    return build(opts)


def webhook_dest(
    receiver: WebhookReceiver, monkeypatch: pytest.MonkeyPatch, *, auth: bool = True, **extra: Any
) -> Destination:
    monkeypatch.setenv("ALERT_HOOK_URL", hook_url(receiver))
    table: dict[str, Any] = {"type": "webhook", "url": {"env": "ALERT_HOOK_URL"}, **extra}
    if auth:
        monkeypatch.setenv("ALERT_HOOK_AUTH", AUTH_VALUE)
        table["authorization"] = {"env": "ALERT_HOOK_AUTH"}
    return build(options_model("webhook").model_validate(table))


SECRETS = (HOOK_SECRET, ROUTING_KEY, AUTH_VALUE, "s3cr3t-webhook-auth-token-42")


def assert_no_secret(text: str, *extra: str) -> None:
    for secret in (*SECRETS, *extra):
        assert secret not in text


# -- registry and options ------------------------------------------------------------------


def test_registry_kinds_and_options() -> None:
    assert kinds() == ["pagerduty", "slack_webhook", "sns", "webhook"]
    pd = options_model("pagerduty").model_validate(
        {"type": "pagerduty", "routing_key": {"env": "X"}}
    )
    assert pd.url == "https://events.pagerduty.com/v2/enqueue"  # type: ignore[attr-defined]
    assert pd.severity is None  # type: ignore[attr-defined]
    with pytest.raises(ValidationError):
        options_model("slack_webhook").model_validate(
            {"type": "slack_webhook", "url": {"env": "X"}, "channel": "#oops"}
        )
    with pytest.raises(ValidationError):
        options_model("webhook").model_validate(
            {"type": "webhook", "url": {"env": "X", "file": "y"}}
        )
    with pytest.raises(ValidationError):
        options_model("sns").model_validate({"type": "sns", "topic_arn": "not-an-arn"})
    with pytest.raises(ValidationError):
        options_model("pagerduty").model_validate(
            {"type": "pagerduty", "routing_key": {"env": "X"}, "severity": "loud"}
        )


def test_unknown_type_lists_known_ones() -> None:
    with pytest.raises(ValueError, match=r"'email'.*pagerduty, slack_webhook, sns, webhook"):
        options_model("email")


def test_build_and_repr_hide_secrets(
    receiver: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    dests = [
        slack_dest(receiver, monkeypatch),
        pd_dest(receiver, monkeypatch),
        webhook_dest(receiver, monkeypatch),
    ]
    assert [type(d) for d in dests] == [SlackWebhook, PagerDuty, Webhook]
    for d in dests:
        assert repr(d) == f"{type(d).__name__}(kind={d.kind!r})"
        d.close()


# -- Slack webhook -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "headline"),
    [
        ("trigger", ":rotating_light: Triggered"),
        ("renotify", ":repeat: Still firing"),
        ("resolve", ":white_check_mark: Resolved"),
    ],
)
def test_slack_webhook_block_kit(
    receiver: WebhookReceiver, monkeypatch: pytest.MonkeyPatch, status: str, headline: str
) -> None:
    dest = slack_dest(receiver, monkeypatch)
    dest.send(alert(status, detail="a <b> & c"))
    (req,) = receiver.wait_for(1)
    assert req.path == f"/services/{HOOK_SECRET}"
    assert req.headers["content-type"] == "application/json"
    body = req.body
    assert headline in body["text"] and ALERT.summary in body["text"]
    header, fields, detail, context = body["attachments"][0]["blocks"]
    assert header["type"] == "header"
    assert header["text"]["type"] == "plain_text"
    assert header["text"]["text"] == f"{headline}: {ALERT.summary}"
    texts = [f["text"] for f in fields["fields"]]
    assert texts == [
        "*Source*\nAcme Corp (`acme`)",
        "*Log type*\naudit",
        "*Rule*\nstale",
        "*Severity*\nmedium",
        "*Since*\n2024-01-01T00:00:00Z",
    ]
    assert detail["type"] == "section" and detail["text"]["text"] == "a &lt;b&gt; &amp; c"
    assert context["type"] == "context"
    assert ALERT.hint in context["elements"][0]["text"]
    dest.close()


def test_slack_webhook_long_summary_and_no_hint(
    receiver: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    dest = slack_dest(receiver, monkeypatch)
    dest.send(alert(summary="x" * 500, hint="", detail=""))
    body = receiver.wait_for(1)[0].body
    blocks = body["attachments"][0]["blocks"]
    assert [b["type"] for b in blocks] == ["header", "section"]
    assert len(blocks[0]["text"]["text"]) <= 150
    dest.close()


# -- PagerDuty -----------------------------------------------------------------------------


def test_pagerduty_trigger_renotify_resolve(
    receiver: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    receiver.status, receiver.body = 202, b'{"status":"success","message":"Event processed"}'
    dest = pd_dest(receiver, monkeypatch, severity="critical")
    for status in ("trigger", "renotify", "resolve"):
        dest.send(alert(status))
    reqs = receiver.wait_for(3)
    assert [r.path for r in reqs] == ["/v2/enqueue"] * 3
    assert [r.body["event_action"] for r in reqs] == ["trigger", "trigger", "resolve"]
    assert {r.body["dedup_key"] for r in reqs} == {ALERT.key}
    assert {r.body["routing_key"] for r in reqs} == {ROUTING_KEY}
    payload = reqs[0].body["payload"]
    assert payload["summary"] == ALERT.summary
    assert payload["source"] == "slack-connector/acme"
    assert payload["severity"] == "critical"
    assert payload["custom_details"] == ALERT.as_dict()
    dest.close()


# -- generic webhook -----------------------------------------------------------------------


def test_webhook_posts_alert_with_authorization(
    receiver: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    dest = webhook_dest(receiver, monkeypatch)
    dest.send(ALERT)
    (req,) = receiver.wait_for(1)
    assert req.body == ALERT.as_dict()
    assert req.headers["authorization"] == AUTH_VALUE
    dest.close()


def test_webhook_secrets_are_read_at_send_time(
    receiver: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    dest = webhook_dest(receiver, monkeypatch)
    dest.send(ALERT)
    monkeypatch.setenv("ALERT_HOOK_URL", receiver.url("/rotated-hook-path-0001"))
    monkeypatch.setenv("ALERT_HOOK_AUTH", "Bearer rotated-token-000000001")
    dest.send(ALERT)
    first, second = receiver.wait_for(2)
    assert first.path.endswith(HOOK_SECRET) and second.path == "/rotated-hook-path-0001"
    assert second.headers["authorization"] == "Bearer rotated-token-000000001"
    dest.close()


def test_webhook_without_authorization(
    receiver: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    dest = webhook_dest(receiver, monkeypatch, auth=False)
    dest.send(ALERT)
    assert "authorization" not in receiver.wait_for(1)[0].headers
    dest.close()


# -- failures are DeliveryError without secrets --------------------------------------------


@pytest.mark.parametrize(
    "make", [slack_dest, pd_dest, webhook_dest], ids=["slack", "pd", "webhook"]
)
def test_http_500_is_delivery_error_without_secrets(
    receiver: WebhookReceiver, monkeypatch: pytest.MonkeyPatch, make: Any
) -> None:
    dest = make(receiver, monkeypatch)
    # A buggy server echoing the request's secrets back must not leak them into the error.
    known = {
        "slack_webhook": [hook_url(receiver)],
        "pagerduty": [ROUTING_KEY],
        "webhook": [hook_url(receiver), AUTH_VALUE],
    }[dest.kind]
    receiver.fail_next(1, status=500, body=" ".join(["no_service", *known]).encode())
    with pytest.raises(DeliveryError) as err:
        dest.send(ALERT)
    message = str(err.value)
    assert message.startswith(f"{dest.kind}: HTTP 500")
    assert "no_service" in message
    assert_no_secret(message, hook_url(receiver))
    dest.close()


@pytest.mark.parametrize(
    "make", [slack_dest, pd_dest, webhook_dest], ids=["slack", "pd", "webhook"]
)
def test_connection_refused_is_delivery_error_without_url(
    monkeypatch: pytest.MonkeyPatch, make: Any
) -> None:
    with WebhookReceiver() as gone:
        dest = make(gone, monkeypatch)
        url = hook_url(gone)
    with pytest.raises(DeliveryError) as err:
        dest.send(ALERT)
    assert str(err.value).startswith(f"{dest.kind}: request failed")
    # httpx's exception (whose text has the URL) is not chained into tracebacks either.
    assert err.value.__cause__ is None and err.value.__suppress_context__
    assert_no_secret(str(err.value), url)
    dest.close()


def test_timeout_is_delivery_error(
    receiver: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    dest = webhook_dest(receiver, monkeypatch, timeout_seconds=0.2)
    receiver.delay = 60.0
    started = time.monotonic()
    with pytest.raises(DeliveryError, match=r"^webhook: timed out") as err:
        dest.send(ALERT)
    assert time.monotonic() - started < 10, "gave up at its timeout, not the receiver's answer"
    assert_no_secret(str(err.value), hook_url(receiver))
    dest.close()


def test_redirect_is_not_followed(
    receiver: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    dest = slack_dest(receiver, monkeypatch)
    receiver.fail_next(1, status=302, body=b"")
    with pytest.raises(DeliveryError, match=r"^slack_webhook: HTTP 302$"):
        dest.send(ALERT)
    dest.close()


def test_missing_secret_is_delivery_error(
    receiver: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    dest = slack_dest(receiver, monkeypatch)
    monkeypatch.delenv("ALERT_SLACK_URL")
    with pytest.raises(
        DeliveryError, match="slack_webhook: environment variable ALERT_SLACK_URL is not set"
    ):
        dest.send(ALERT)
    assert receiver.requests == []
    dest.close()


# -- SNS (moto server, delivered into SQS) -------------------------------------------------


def test_sns_publishes_to_topic(moto_endpoint: str) -> None:
    sns = boto3.client("sns", endpoint_url=moto_endpoint, region_name="us-east-1")
    sqs = boto3.client("sqs", endpoint_url=moto_endpoint, region_name="us-east-1")
    name = f"alerts-{uuid.uuid4().hex[:8]}"
    topic_arn = sns.create_topic(Name=name)["TopicArn"]
    queue_url = sqs.create_queue(QueueName=name)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)

    opts = options_model("sns").model_validate(
        {
            "type": "sns",
            "topic_arn": topic_arn,
            "region": "us-east-1",
            "endpoint_url": moto_endpoint,
        }
    )
    dest = build(opts)
    assert isinstance(dest, Sns) and repr(dest) == "Sns(kind='sns')"
    dest.send(alert("trigger", summary="Ünïcode\nsummary " + "y" * 200))

    got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=2)
    (msg,) = got["Messages"]
    envelope = json.loads(msg["Body"])
    assert envelope["TopicArn"] == topic_arn
    assert len(envelope["Subject"]) <= 100 and envelope["Subject"].isascii()
    assert envelope["Subject"].startswith("[TRIGGER] ")
    assert json.loads(envelope["Message"])["key"] == ALERT.key
    assert envelope["MessageAttributes"]["status"] == {"Type": "String", "Value": "trigger"}
    dest.close()


def test_sns_unknown_topic_is_delivery_error(moto_endpoint: str) -> None:
    opts = options_model("sns").model_validate(
        {
            "type": "sns",
            "topic_arn": "arn:aws:sns:us-east-1:123456789012:nope",
            "endpoint_url": moto_endpoint,
        }
    )
    dest = build(opts)
    with pytest.raises(
        DeliveryError, match=r"^sns: publish to arn:aws:sns:us-east-1:123456789012:nope: "
    ):
        dest.send(ALERT)
    dest.close()


def test_sns_subject_rules() -> None:
    assert subject(alert(summary="ok")) == "[TRIGGER] ok"
    s = subject(alert("resolve", summary="a\r\nb\tc é " + "z" * 300))
    assert s.startswith("[RESOLVE] a b c ") and len(s) <= 100 and s.isascii() and s.endswith("...")


# -- dispatcher ----------------------------------------------------------------------------


class Results:
    def __init__(self) -> None:
        self.items: list[tuple[str, str, bool]] = []
        self._lock = threading.Lock()

    def __call__(self, kind: str, alert: Alert, ok: bool) -> None:
        with self._lock:
            self.items.append((kind, alert.status, ok))


def test_dispatcher_retries_then_succeeds(
    receiver: WebhookReceiver, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="connector")
    results = Results()
    receiver.fail_next(2, status=500)
    dispatcher = Dispatcher(
        [webhook_dest(receiver, monkeypatch)], attempts=3, backoff=0.01, on_result=results
    )
    dispatcher.submit(ALERT)
    assert dispatcher.flush(5)
    assert len(receiver.requests) == 3
    assert results.items == [("webhook", "trigger", True)]
    assert "attempt 1 of 3" in caplog.text and "attempt 2 of 3" in caplog.text
    assert "alert delivered to webhook" in caplog.text
    assert dispatcher.close()
    assert_no_secret(caplog.text, hook_url(receiver))


def test_dispatcher_gives_up_and_logs_without_secrets(
    receiver: WebhookReceiver, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="connector")
    results = Results()
    echo = f"bad {hook_url(receiver)} {ROUTING_KEY} {AUTH_VALUE}".encode()
    receiver.fail_next(100, status=503, body=echo)
    dests = [
        slack_dest(receiver, monkeypatch),
        pd_dest(receiver, monkeypatch),
        webhook_dest(receiver, monkeypatch),
    ]
    sleeps: list[float] = []
    dispatcher = Dispatcher(dests, attempts=3, backoff=0.01, sleep=sleeps.append, on_result=results)
    dispatcher.submit(ALERT)
    assert dispatcher.flush(5)
    assert len(receiver.requests) == 9
    assert len(sleeps) == 6 and all(0 < s < 1 for s in sleeps)
    assert sorted(results.items) == [
        ("pagerduty", "trigger", False),
        ("slack_webhook", "trigger", False),
        ("webhook", "trigger", False),
    ]
    failed = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert {getattr(r, "destination", None) for r in failed} == {
        "slack_webhook",
        "pagerduty",
        "webhook",
    }
    assert all(
        "failed after 3 attempts" in r.getMessage() and "HTTP 503" in r.getMessage() for r in failed
    )
    dispatcher.close()
    assert_no_secret(caplog.text, hook_url(receiver), receiver.url("/v2/enqueue"))


def test_submit_does_not_block_on_a_slow_destination(
    receiver: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    receiver.delay = 60.0
    dispatcher = Dispatcher([webhook_dest(receiver, monkeypatch)], attempts=1, backoff=0.01)
    started = time.monotonic()
    for status in ("trigger", "renotify", "resolve"):
        dispatcher.submit(alert(status))
    assert time.monotonic() - started < 10, "submitting never waits for the held delivery"
    assert not dispatcher.flush(0.05)
    receiver.release()
    assert dispatcher.flush(30)
    assert [b["status"] for b in receiver.bodies] == ["trigger", "renotify", "resolve"]
    dispatcher.close()


def test_failing_or_slow_destination_does_not_hold_up_another(
    receiver: WebhookReceiver,
    other_receiver: WebhookReceiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    results = Results()
    receiver.fail_next(100, status=500)
    receiver.delay = 60.0
    bad = webhook_dest(receiver, monkeypatch)
    good = pd_dest(other_receiver, monkeypatch)
    dispatcher = Dispatcher([bad, good], attempts=3, backoff=0.02, on_result=results)
    dispatcher.submit(alert("trigger"))
    dispatcher.submit(alert("resolve"))
    # The good destination has both alerts while the bad one's first answer is still held.
    other_receiver.wait_for(2, timeout=20)
    assert [b["event_action"] for b in other_receiver.bodies] == ["trigger", "resolve"]
    assert len(receiver.requests) <= 1, "the bad destination is still on its first attempt"
    receiver.release()
    assert dispatcher.flush(30)
    assert sorted(results.items) == [
        ("pagerduty", "resolve", True),
        ("pagerduty", "trigger", True),
        ("webhook", "resolve", False),
        ("webhook", "trigger", False),
    ]
    dispatcher.close()


def test_full_queue_drops_the_oldest(
    receiver: WebhookReceiver, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="connector")
    receiver.delay = 60.0
    dispatcher = Dispatcher([webhook_dest(receiver, monkeypatch)], attempts=1, queue_size=2)
    first = alert(summary="first")
    dispatcher.submit(first)
    receiver.wait_for(1)  # the worker holds `first`; the queue is empty again
    for n in range(4):
        dispatcher.submit(alert(summary=f"queued {n}"))
    assert dispatcher.dropped == 2
    assert "queue for webhook is full" in caplog.text
    receiver.release()
    assert dispatcher.flush(10)
    assert [b["summary"] for b in receiver.bodies] == ["first", "queued 2", "queued 3"]
    dispatcher.close()


def test_close_closes_destinations_and_refuses_new_alerts(
    receiver: WebhookReceiver, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    closed: list[str] = []

    class Recording(Webhook):
        def close(self) -> None:
            closed.append(self.kind)
            super().close()

    monkeypatch.setenv("ALERT_HOOK_URL", hook_url(receiver))
    from connector.secrets import SecretRef

    dispatcher = Dispatcher([Recording(SecretRef(env="ALERT_HOOK_URL"))], backoff=0.01)
    dispatcher.submit(ALERT)
    assert dispatcher.close(5)
    assert closed == ["webhook"] and len(receiver.requests) == 1
    caplog.set_level(logging.ERROR, logger="connector")
    dispatcher.submit(ALERT)
    assert "dispatcher is closed" in caplog.text
    assert len(receiver.requests) == 1


def test_unexpected_exception_does_not_kill_the_worker(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="connector")
    calls: list[str] = []

    class Buggy(Destination):
        kind = "buggy"

        def send(self, alert: Alert) -> None:
            calls.append(alert.status)
            if alert.status == "trigger":
                raise RuntimeError(f"boom {HOOK_SECRET}")

    results = Results()
    dispatcher = Dispatcher([Buggy()], attempts=3, backoff=0.01, on_result=results)
    dispatcher.submit(alert("trigger"))
    dispatcher.submit(alert("resolve"))
    assert dispatcher.flush(5)
    assert calls == ["trigger", "resolve"]  # not retried: only DeliveryError is
    assert results.items == [("buggy", "trigger", False), ("buggy", "resolve", True)]
    assert "unexpected RuntimeError" in caplog.text
    assert_no_secret(caplog.text)
    dispatcher.close()


# -- severity --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("severity", "pagerduty", "colour"),
    [
        ("info", "info", "#9e9e9e"),
        ("low", "info", "#2eb6f0"),
        ("medium", "warning", "#ecb22e"),
        ("high", "error", "#e01e5a"),
        ("critical", "critical", "#7a0019"),
    ],
)
def test_severity_reaches_pagerduty_and_the_slack_colour(
    receiver: WebhookReceiver,
    monkeypatch: pytest.MonkeyPatch,
    severity: str,
    pagerduty: str,
    colour: str,
) -> None:
    pd, slack = pd_dest(receiver, monkeypatch), slack_dest(receiver, monkeypatch)
    pd.send(alert(severity=severity))
    slack.send(alert(severity=severity))
    slack.send(alert("resolve", severity=severity))
    by_path = {r.path: r.body for r in receiver.wait_for(3)[:2]}
    assert by_path["/v2/enqueue"]["payload"]["severity"] == pagerduty
    assert by_path["/v2/enqueue"]["payload"]["custom_details"]["severity"] == severity
    assert by_path[f"/services/{HOOK_SECRET}"]["attachments"][0]["color"] == colour
    assert receiver.wait_for(3)[2].body["attachments"][0]["color"] == "#2eb67d"
    pd.close()
    slack.close()


def test_a_configured_pagerduty_severity_still_wins(
    receiver: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    dest = pd_dest(receiver, monkeypatch, severity="warning")
    dest.send(alert(severity="critical"))
    assert receiver.wait_for(1)[0].body["payload"]["severity"] == "warning"
    dest.close()
