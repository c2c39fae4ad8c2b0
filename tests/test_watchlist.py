"""Watchlists end to end: fake Slack → pipeline → watchlist_match alerts at a webhook receiver,
across restarts (state file), file edits and indicators added from Slack."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from connector import clock
from connector.cli.main import main
from connector.config.errors import ConfigError
from connector.config.load import load, parse
from connector.config.sections import WatchlistConfig
from connector.config.settings import Settings
from connector.indicators.match import parse as parse_indicator
from connector.service.app import App
from connector.state.sqlite import StateStore
from connector.watchlist import watchlist as watchlist_module
from connector.watchlist.watchlist import Watchlist
from tests.conftest import alert_hook, once, read_local, source
from tests.factories import audit, cli_source, config_file, now
from tests.fakes.slack_server import FakeSlack
from tests.fakes.webhook_receiver import WebhookReceiver

HOOK = "/hooks/watch-s3cr3t"


@pytest.fixture
def rx(monkeypatch: pytest.MonkeyPatch) -> Iterator[WebhookReceiver]:
    with alert_hook(monkeypatch, "WATCH_HOOK_URL", HOOK) as receiver:
        yield receiver


def settings(tmp_path: Path, slack: FakeSlack, **watch: Any) -> Settings:
    return parse(
        {
            "state": {"path": str(tmp_path / "state.db")},
            "output": {"type": "local", "path": str(tmp_path / "out")},
            "alerts": {
                "no_events_after_seconds": 0,
                "delivery_attempts": 1,
                "destinations": [{"type": "webhook", "url": {"env": "WATCH_HOOK_URL"}}],
            },
            "watchlist": watch,
            "sources": [source(slack, log_types=["audit"])],
        }
    )


def matches(rx: WebhookReceiver) -> list[dict[str, Any]]:
    return [b for b in rx.bodies if b.get("rule") == "watchlist_match"]


def test_match_alerts_with_context_once_across_restart_and_reset(
    slack: FakeSlack, tmp_path: Path, rx: WebhookReceiver
) -> None:
    t = now()
    slack.add_audit(audit(i, t - 100 + i) for i in range(1, 30))
    slack.add_audit([audit(257, t - 50, action="file_downloaded")])  # 203.0.113.7 again
    cfg = settings(tmp_path, slack, indicators=["203.0.113.7", "user9@example.com"])

    [outcome] = once(cfg)

    assert outcome.ok, outcome.detail
    got = matches(rx)
    assert sorted(a["context"]["p_row_id"] for a in got) == sorted(
        r["p_row_id"]
        for r in _landed(tmp_path)
        if r["id"] in {audit(n, 0)["id"] for n in (7, 9, 257)}
    )
    by_who = {a["context"]["who"]: a for a in got}
    seven = by_who["user7 <user7@example.com>"]
    assert seven["status"] == "trigger" and seven["source_id"] == "acme"
    assert seven["context"]["indicator"] == "ip:203.0.113.7"
    assert seven["context"]["where"] == "203.0.113.7"
    assert seven["context"]["what"].startswith("user_login user")
    assert seven["context"]["when"] == clock.rfc3339(t - 93)
    assert seven["log_type"] == "Slack.AuditLogs" and "203.0.113.7" in seven["detail"]
    assert by_who["user9 <user9@example.com>"]["context"]["indicator"] == "email:user9@example.com"

    # Restart: the overlap is re-read, nothing new lands, nothing is alerted again.
    once(cfg)
    assert len(matches(rx)) == 3
    # Even when the seen-set is reset and every row lands again, the hits are remembered.
    assert main_state_reset(tmp_path, cfg) == 0
    slack.add_audit([audit(1007, t - 10)])  # 1007 % 250 == 7
    once(cfg)
    new = matches(rx)[3:]
    assert [a["context"]["who"] for a in new] == ["user1007 <user1007@example.com>"]


def main_state_reset(tmp_path: Path, cfg: Settings) -> int:
    source = cli_source(None, log_types=None, audit_calls_per_minute=None)
    path = config_file(tmp_path, source, state={"path": cfg.state.path})
    return main(
        [
            "state",
            "reset",
            "--config",
            str(path),
            "--source",
            "acme",
            "--log-type",
            "audit",
            "--yes",
        ]
    )


def _landed(tmp_path: Path) -> list[dict[str, Any]]:
    return read_local(tmp_path / "out", "slack/Slack.AuditLogs")


def test_rate_limit_holds_across_restart_and_reports_what_it_held(
    slack: FakeSlack, tmp_path: Path, rx: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    t = now()
    slack.add_audit(audit(i, t - 100 + i) for i in range(1, 30))
    cfg = settings(tmp_path, slack, indicators=["203.0.113.0/28"], max_alerts_per_hour=4)
    once(cfg)
    assert len(matches(rx)) == 4, "15 rows match, 4 are alerted this hour"
    slack.add_audit([audit(1002, t - 5)])  # 203.0.113.2
    once(cfg)
    assert len(matches(rx)) == 4, "the count survived the restart"
    with sqlite3.connect(tmp_path / "state.db") as db:
        kept = db.execute(
            "SELECT count(*) FROM watchlist WHERE key LIKE 'watchlist:ip:%'"
        ).fetchone()
        assert db.execute(
            "SELECT count(*) FROM alerts WHERE key LIKE 'watchlist:%'"
        ).fetchone() == (0,), "the watchlist's keys are not alert state"
    assert kept == (4,), "held-back matches are counted, not kept one by one"

    an_hour_on = datetime.fromtimestamp(t + 3600, UTC)
    monkeypatch.setattr(clock, "now", lambda: an_hour_on)
    slack.add_audit([audit(2002, t - 4)])
    once(cfg)
    [next_hour] = matches(rx)[4:]
    assert "12 earlier matches were not alerted (rate limit)" in next_hour["detail"]


def test_file_is_reread_when_it_changes(
    slack: FakeSlack, tmp_path: Path, rx: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(watchlist_module, "RELOAD_CHECK_SECONDS", 0.0)
    listed = tmp_path / "watch.txt"
    listed.write_text("# analysts' list\n203.0.113.1\n")
    t = now()
    slack.add_audit([audit(1, t - 60)])
    app = App(settings(tmp_path, slack, file=str(listed)))
    try:
        app.once()
        listed.write_text("203.0.113.2  # replaced\n")
        os.utime(listed, (t + 5, t + 5))
        slack.add_audit([audit(2, t - 30), audit(251, t - 20)])  # .2 and .1 again
        app.once()
        assert app.watchlist.listing()["file"] == ["ip:203.0.113.2"]
        listed.write_text("ip:300.1.1.1\n")
        os.utime(listed, (t + 10, t + 10))
        assert app.watchlist.listing()["file"] == ["ip:203.0.113.2"], (
            "a bad edit keeps the last good list"
        )
    finally:
        app.close()
    assert [a["context"]["who"] for a in matches(rx)] == [
        "user1 <user1@example.com>",
        "user2 <user2@example.com>",
    ]


def test_indicators_added_from_slack_survive_a_restart(
    slack: FakeSlack, tmp_path: Path, rx: WebhookReceiver
) -> None:
    cfg = settings(tmp_path, slack, indicators=["user3@example.com"])
    app = App(cfg)
    try:
        app.watchlist.add("W000004")
        app.watchlist.add("@user5")
        assert app.watchlist.remove("@user5")
        assert not app.watchlist.remove("user3@example.com"), "config entries stay"
    finally:
        app.close()
    t = now()
    slack.add_audit(audit(i, t - 50 + i) for i in range(1, 8))
    once(cfg)
    assert sorted(a["context"]["indicator"] for a in matches(rx)) == [
        "email:user3@example.com",
        "user:W000004",
    ]


def test_bad_watchlist_config_names_the_field(tmp_path: Path, slack: FakeSlack) -> None:
    base = '[[sources]]\nid = "a"\ntoken_env = "SLACK_TEST_TOKEN"\n'
    path = tmp_path / "c.toml"
    path.write_text(f'[watchlist]\nindicators = ["1.2.3.4", "ip:nope"]\n{base}')
    with pytest.raises(ConfigError, match=r"watchlist.indicators\[1\]"):
        load(path)
    path.write_text(f'[watchlist]\nfile = "{tmp_path}/missing.txt"\n{base}')
    with pytest.raises(ConfigError, match=r"watchlist\.file: cannot read"):
        load(path)
    (tmp_path / "bad.txt").write_text("1.2.3.4\nemail:x\n")
    path.write_text(f'[watchlist]\nfile = "{tmp_path}/bad.txt"\n{base}')
    with pytest.raises(ConfigError, match=r"watchlist\.file: .*line 2"):
        load(path)
    assert main(["search", "--config", str(path), "1.2.3.4"]) == 2
    path.write_text(f'[[watchlist.lists]]\nname = "a"\n[[watchlist.lists]]\nname = "a"\n{base}')
    with pytest.raises(ConfigError, match=r"watchlist\.lists: duplicate list name 'a'"):
        load(path)
    path.write_text(f'[[watchlist.lists]]\nname = "has space"\n{base}')
    with pytest.raises(ConfigError, match=r"watchlist\.lists\[0\]\.name"):
        load(path)
    assert main(["watchlist", "show", "--config", str(path)]) == 2
    path.write_text(f'[slash_command]\nweb_api_url = "http://slack.example/api/"\n{base}')
    with pytest.raises(ConfigError, match=r"slash_command\.web_api_url: must be an https URL"):
        load(path)
    path.write_text(f'[slash_command]\ninteractivity_path = "/slack/commands"\n{base}')
    with pytest.raises(ConfigError, match=r"slash_command\.interactivity_path: must differ"):
        load(path)


def test_a_source_cannot_take_the_watchlists_state_prefix(tmp_path: Path) -> None:
    """`state reset --source watchlist` would otherwise delete every watchlist key."""
    path = tmp_path / "c.toml"
    path.write_text('[[sources]]\nid = "watchlist"\ntoken_env = "SLACK_TEST_TOKEN"\n')
    with pytest.raises(ConfigError, match=r"sources\[0\]\.id: .*reserved"):
        load(path)
    assert main(["state", "show", "--config", str(path)]) == 2


def test_scan_dedupes_per_indicator_and_event(tmp_path: Path) -> None:
    """Two indicators on one row alert twice; the same row scanned again alerts no more."""
    sent: list[Any] = []
    store = StateStore(tmp_path / "s.db")
    try:
        watch = Watchlist(
            WatchlistConfig(indicators=["203.0.113.1", "user1@example.com"]), store, sent.append
        )
        row = {
            **audit(1, 1_790_000_000),
            "p_row_id": "r1",
            "p_log_type": "Slack.AuditLogs",
            "p_event_time": "2026-09-21T14:13:20Z",
            "p_any_ip_addresses": ["203.0.113.1"],
            "p_any_emails": ["user1@example.com"],
        }
        line = orjson.dumps(row)
        assert watch.scan([line]) == 2
        assert watch.scan([line, line]) == 0
        assert {a.context["indicator"] for a in sent} == {
            parse_indicator("203.0.113.1").label,
            "email:user1@example.com",
        }
    finally:
        store.close()
