"""Slack's lists of audit actions and entity types: `slack_new_action` when Slack lists one
the connector has not seen listed, `slack_unlisted_action` when a landed event carries an
action the list lacks, each once; failed or malformed reads are retried a day later with
no alert. Units against a real SQLite store, then the daemon against the fake Slack."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from freezegun import freeze_time

from connector.alerts.base import Alert
from connector.cli.check import _stale_lists
from connector.cli.state import catalog_summary
from connector.config.detections import CatalogConfig
from connector.config.load import parse
from connector.detections.catalog import KEY, Catalog
from connector.service.app import App
from connector.slack import catalog as slack_catalog
from connector.slack.catalog import Listing
from connector.slack.errors import SlackError, SlackTransientError
from connector.state.sqlite import StateStore
from tests.conftest import alert_hook, source
from tests.factories import audit, now
from tests.fakes.slack_server import FakeSlack
from tests.fakes.webhook_receiver import WebhookReceiver

BASE = {"user_login": "user", "file_downloaded": "file", "anomaly": "anomaly"}


class Lists:
    """What Slack answers, changed by each test; an exception to raise instead."""

    def __init__(self) -> None:
        self.actions = dict(BASE)
        self.types = {"user", "file"}
        self.error: SlackError | None = None
        self.calls = 0

    def __call__(self) -> Listing:
        self.calls += 1
        if self.error is not None:
            raise self.error
        return Listing(dict(self.actions), frozenset(self.types))


@pytest.fixture
def lists() -> Lists:
    return Lists()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[StateStore]:
    s = StateStore(tmp_path / "state.db")
    yield s
    s.close()


def catalog(store: StateStore, lists: Lists, sent: list[Alert]) -> Catalog:
    return Catalog(CatalogConfig(), store, sent.append, lists, ("acme", "Acme"))


# -- parsing Slack's answers -----------------------------------------------------------------


def test_parse_the_sdk_shapes_and_refuse_what_holds_nothing() -> None:
    assert slack_catalog.actions({"actions": {"user": ["user_login"], "ai": ["ai_x"]}}) == {
        "user_login": "user",
        "ai_x": "ai",
    }
    assert slack_catalog.actions({"actions": ["a", 3, ""]}) == {"a": ""}
    types = slack_catalog.entity_types({"schemas": [{"type": "user", "user": {}}, "file", {}]})
    assert types == frozenset({"user", "file"})
    for bad in ({}, {"actions": {}}, {"actions": {"user": "user_login"}}, {"actions": "x"}):
        with pytest.raises(SlackTransientError, match="malformed"):
            slack_catalog.actions(bad)
    with pytest.raises(SlackTransientError, match="malformed"):
        slack_catalog.entity_types({"schemas": {"user": {}}})


# -- new actions -----------------------------------------------------------------------------


def test_the_first_read_is_a_baseline_and_each_new_name_alerts_once(
    store: StateStore, lists: Lists
) -> None:
    sent: list[Alert] = []
    cat = catalog(store, lists, sent)
    assert cat.refresh() == 0 and sent == []
    lists.actions["ai_agent_invoked"] = "ai"
    lists.types.add("canvas")
    assert cat.refresh(force=True) == 2
    (alert,) = sent
    assert alert.rule == "slack_new_action" and alert.severity == "info"
    assert alert.summary == (
        "Slack lists 2 new audit action and entity types: ai_agent_invoked (ai), canvas"
    )
    assert alert.context == {"actions": "ai_agent_invoked", "entity_types": "canvas"}
    assert cat.refresh(force=True) == 0
    again = catalog(store, lists, sent)  # a restart, or a second replica
    assert again.refresh(force=True) == 0 and len(sent) == 1


def test_a_short_answer_does_not_make_everything_new_the_next_day(
    store: StateStore, lists: Lists
) -> None:
    sent: list[Alert] = []
    cat = catalog(store, lists, sent)
    cat.refresh()
    lists.actions = {"user_login": "user"}
    cat.refresh(force=True)
    lists.actions = dict(BASE)
    cat.refresh(force=True)
    assert sent == []
    assert sorted(store.detection_value(KEY)["actions"]) == sorted(BASE)


@pytest.mark.parametrize(
    "error",
    [
        SlackTransientError("catalog", "actions", "HTTP 502"),
        SlackTransientError("catalog", "schemas", "malformed answer: not JSON"),
    ],
)
def test_a_failed_read_is_logged_retried_a_day_later_and_never_alerts(
    store: StateStore, lists: Lists, error: SlackError, caplog: pytest.LogCaptureFixture
) -> None:
    sent: list[Alert] = []
    with freeze_time("2026-12-01 00:00:00") as frozen:
        cat = catalog(store, lists, sent)
        cat.refresh()
        lists.error = error
        frozen.tick(86_400)
        for _ in range(5):  # the hourly checks of a whole day
            cat.refresh()
            frozen.tick(3600)
        assert lists.calls == 2
        assert "could not read Slack's audit action lists" in caplog.text
        assert store.detection_value(KEY)["error"] == error.detail
        lists.error = None
        lists.actions["new_one"] = "user"
        frozen.tick(86_400)
        cat.refresh()
    assert lists.calls == 3 and [a.rule for a in sent] == ["slack_new_action"]
    assert store.detection_value(KEY)["error"] is None


# -- unlisted actions ------------------------------------------------------------------------


def rows(*events: dict[str, Any]) -> list[bytes]:
    return [
        orjson.dumps({**e, "p_source_id": "acme", "p_row_id": f"r{i}"})
        for i, e in enumerate(events)
    ]


def test_an_unlisted_action_alerts_once(store: StateStore, lists: Lists) -> None:
    sent: list[Alert] = []
    cat = catalog(store, lists, sent)
    assert cat.watch("acme", "audit") is None  # nothing known yet: nothing is unlisted
    cat.refresh()
    scan = cat.watch("acme", "audit")
    assert scan is not None and cat.watch("acme", "access") is None
    nested = {**audit(3, 1), "details": {"action": "not_a_top_level_action"}}
    assert (
        scan(
            rows(audit(1, 1), nested, audit(2, 1, "canvas_mystery"), audit(4, 1, "canvas_mystery"))
        )
        == 1
    )
    (alert,) = sent
    assert alert.rule == "slack_unlisted_action" and alert.severity == "low"
    assert alert.summary == "Audit action not in Slack's list: canvas_mystery"
    assert alert.context["event_id"] == audit(2, 1)["id"]
    assert scan(rows(audit(5, 1, "canvas_mystery"))) == 0


def test_an_unlisted_action_on_every_row_costs_one_mark_per_process(
    store: StateStore, lists: Lists, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Marks are never cleared, so once one is set (here or by another replica) the
    process stops asking the store: 1,000 rows of one unlisted action, one mark call."""
    marks: list[str] = []
    mark = store.mark_detection

    def counted(key: str, value: dict[str, Any], *, time: int | None = None) -> bool:
        marks.append(key)
        return mark(key, value, time=time)

    monkeypatch.setattr(store, "mark_detection", counted)
    other: list[Alert] = []
    catalog(store, lists, other).refresh()
    first = catalog(store, lists, other).watch("acme", "audit")
    assert first is not None and first(rows(audit(1, 1, "canvas_mystery"))) == 1
    sent: list[Alert] = []
    cat = catalog(store, lists, sent)
    scan = cat.watch("acme", "audit")
    assert scan is not None
    assert scan(rows(*(audit(n, 1, "canvas_mystery") for n in range(2, 1002)))) == 0
    assert sent == [] and len(other) == 1  # the other replica's mark holds
    assert scan(rows(audit(2000, 1, "huddle_mystery"), audit(2001, 1, "huddle_mystery"))) == 1
    assert marks == [f"{KEY}:unlisted:{a}" for a in ("canvas_mystery",) * 2 + ("huddle_mystery",)]


# -- state show and check --------------------------------------------------------------------


def test_state_show_summary_and_check_warn_when_two_days_old(
    store: StateStore, lists: Lists, slack: FakeSlack, tmp_path: Path
) -> None:
    cfg = parse({"state": {"path": str(tmp_path / "s.db")}, "sources": [source(slack)]})
    assert "never read" in str(_stale_lists(cfg, None))
    with freeze_time("2026-12-01 00:00:00") as frozen:
        catalog(store, lists, []).refresh()
        summary = catalog_summary(store.detection_value(KEY))
        assert summary is not None
        assert (summary["actions"], summary["entity_types"], summary["age_seconds"]) == (3, 2, 0)
        frozen.tick(2 * 86_400)
        assert _stale_lists(cfg, catalog_summary(store.detection_value(KEY))) is None
        frozen.tick(3600)
        lists.error = SlackTransientError("catalog", "actions", "HTTP 503")
        catalog(store, lists, []).refresh()
        stale = _stale_lists(cfg, catalog_summary(store.detection_value(KEY)))
    assert stale == "Slack's audit action lists were read 49 h ago (last error: HTTP 503)"


# -- end to end ------------------------------------------------------------------------------

HOOK = "/hooks/catalog-s3cr3t"


@pytest.fixture
def rx(monkeypatch: pytest.MonkeyPatch) -> Iterator[WebhookReceiver]:
    with alert_hook(monkeypatch, "CATALOG_HOOK_URL", HOOK) as receiver:
        yield receiver


def daemon(tmp_path: Path, slack: FakeSlack) -> App:
    return App(
        parse(
            {
                "state": {"path": str(tmp_path / "state.db")},
                "output": {"type": "local", "path": str(tmp_path / "out")},
                "alerts": {
                    "no_events_after_seconds": 0,
                    "delivery_attempts": 1,
                    "destinations": [{"type": "webhook", "url": {"env": "CATALOG_HOOK_URL"}}],
                },
                "sources": [source(slack, log_types=["audit"])],
            }
        )
    )


def by_rule(rx: WebhookReceiver, rule: str) -> list[dict[str, Any]]:
    return [b for b in rx.bodies if b.get("rule") == rule]


def test_a_new_action_and_an_unlisted_one_alert_once_each_over_real_sockets(
    slack: FakeSlack, tmp_path: Path, rx: WebhookReceiver
) -> None:
    t = now()
    slack.add_audit(audit(i, t - 100 + i) for i in range(1, 10))
    app = daemon(tmp_path, slack)
    try:
        assert all(o.ok for o in app.once())
        assert [r.verb for r in slack.requests if r.method in ("actions", "schemas")] == ["GET"] * 2
        assert all(
            "authorization" not in r.headers for r in slack.requests if r.method == "actions"
        )
        slack.admin.add_action("ai", "ai_agent_invoked")
        slack.add_audit([audit(50, t - 5, "canvas_mystery"), audit(51, t - 4, "canvas_mystery")])
        app.refresh_catalog(force=True)  # the next day's read
        assert all(o.ok for o in app.once())
        assert all(o.ok for o in app.once())
    finally:
        app.close()
    [new] = by_rule(rx, "slack_new_action")
    assert new["summary"] == "Slack lists 1 new audit action: ai_agent_invoked (ai)"
    assert new["severity"] == "info"
    [unlisted] = by_rule(rx, "slack_unlisted_action")
    assert unlisted["context"]["action"] == "canvas_mystery" and unlisted["severity"] == "low"


@pytest.mark.parametrize("fault", ["html500", "garbage", "not a list"])
def test_a_broken_answer_is_logged_and_alerts_nothing(
    slack: FakeSlack,
    tmp_path: Path,
    rx: WebhookReceiver,
    fault: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    if fault == "not a list":
        slack.admin.catalog_body = b'{"actions": {"user": "user_login"}}'
    else:
        slack.fail_next("actions", fault, times=3)
    slack.add_audit(audit(i, now() - 50 + i) for i in range(1, 5))
    app = daemon(tmp_path, slack)
    try:
        assert all(o.ok for o in app.once())  # the logs land all the same
        app.refresh_catalog()  # not due again today
    finally:
        app.close()
    assert slack.count("actions") == 1
    assert "could not read Slack's audit action lists" in caplog.text
    assert by_rule(rx, "slack_new_action") == by_rule(rx, "slack_unlisted_action") == []
