"""Issue #11's seven confirmed problems, each reproduced over real sockets against the fake
Slack. Every test here failed on the code before the paging rewrite (9e11008)."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from connector.cli.main import main
from connector.slack.client import RetryPolicy, SlackClient
from connector.slack.errors import SlackRateLimitedError
from connector.slack.ratelimit import RateBudgets
from tests.conftest import TOKEN, local_settings, once, read_local, source
from tests.factories import access, audit, integration, now
from tests.fakes.slack_server import FakeSlack
from tests.test_backfill_state import config as backfill_config

MS = 1000


def landed(tmp_path: Path, log_type: str) -> list[dict[str, Any]]:
    return read_local(tmp_path / "out", f"slack/{log_type}")


def quarantined(tmp_path: Path, log_type: str) -> list[dict[str, Any]]:
    return read_local(tmp_path / "out", f"slack/_quarantine/{log_type}")


# 1 ---------------------------------------------------------------- malformed timestamps
def _with_millisecond_record(slack: FakeSlack, kind: str, t: int) -> None:
    if kind == "audit":
        slack.add_audit([audit(i, t - 60 - i) for i in range(20)] + [audit(99, (t - 30) * MS)])
    elif kind == "access":
        slack.add_access(access(f"U{i}", "198.51.100.1", "UA", t - 60 - i) for i in range(20))
        slack.add_access([access("U99", "198.51.100.2", "UA", (t - 30) * MS, t - 30)])
    else:
        slack.add_integration(integration(i, t - 60 - i) for i in range(20))
        slack.add_integration([integration(99, (t - 30) * MS)])


LOG_TYPES = {
    "audit": "Slack.AuditLogs",
    "access": "Slack.AccessLogs",
    "integration": "Slack.IntegrationLogs",
}


@pytest.mark.parametrize("kind", sorted(LOG_TYPES))
def test_1_millisecond_timestamp_is_quarantined_and_the_page_lands(
    slack: FakeSlack, tmp_path: Path, kind: str
) -> None:
    t = now()
    _with_millisecond_record(slack, kind, t)
    settings = local_settings(tmp_path, source(slack, log_types=[kind], page_size=7))

    [outcome] = once(settings)
    [again] = once(settings)

    assert outcome.ok and again.ok, (outcome.detail, again.detail)
    assert len(landed(tmp_path, LOG_TYPES[kind])) == 20
    [bad] = quarantined(tmp_path, LOG_TYPES[kind])
    assert "milliseconds" in bad["reason"]
    assert again.result is not None and again.result.quarantined == 0, "quarantined once"


# 2 ---------------------------------------------------------------- access sort vs before field
@pytest.mark.parametrize(
    ("sort_key", "before_field"),
    [
        ("date_first", "date_last"),
        ("date_last", "date_first"),
        ("date_first", "date_first"),
        ("date_last", "date_last"),
    ],
)
def test_2_access_rows_land_whichever_field_sorts_and_before_filters(
    slack: FakeSlack, tmp_path: Path, sort_key: str, before_field: str
) -> None:
    """Rows whose date_first and date_last orders disagree: keyset `before` on the other
    field than the sort hid some of them from every later request."""
    t = now()
    slack.access_sort_key, slack.access_before_field = sort_key, before_field
    slack.add_access(
        access(f"U{i}", f"198.51.100.{i}", "UA", t - 5000 - 97 * i, t - 100 - 37 * ((7 * i) % 30))
        for i in range(30)
    )
    settings = local_settings(tmp_path, source(slack, log_types=["access"], page_size=7))

    [first] = once(settings)
    for i in range(0, 30, 3):
        slack.touch_access(f"U{i}", f"198.51.100.{i}", "UA", t - 1)
    slack.add_access(
        [
            access("U100", "198.51.100.200", "UA", t - 2),
            access("U101", "198.51.100.201", "UA", t - 3),
        ]
    )
    [second] = once(settings)

    assert first.ok and second.ok
    got = Counter(r["user_id"] for r in landed(tmp_path, "Slack.AccessLogs"))
    assert len(got) == 32 and set(got.values()) == {1}


# 3 ---------------------------------------------------------------- host and Slack clocks differ
def test_3_slack_clock_behind_the_host_loses_nothing(slack: FakeSlack, tmp_path: Path) -> None:
    slack.clock_offset = -600
    t = slack.now()
    slack.add_audit(audit(i, t - 10 - i) for i in range(10))
    settings = local_settings(tmp_path, source(slack, log_types=["audit"]))
    assert once(settings)[0].ok

    slack.add_audit(audit(100 + i, slack.now() - i) for i in range(5))
    [outcome] = once(settings)

    assert outcome.ok
    assert len({r["id"] for r in landed(tmp_path, "Slack.AuditLogs")}) == 15


def test_3_slack_clock_ahead_of_the_host_is_not_late(slack: FakeSlack, tmp_path: Path) -> None:
    slack.clock_offset = 600
    slack.add_audit(audit(i, slack.now() - i) for i in range(10))
    settings = local_settings(tmp_path, source(slack, log_types=["audit"]))

    assert once(settings)[0].ok
    assert len(landed(tmp_path, "Slack.AuditLogs")) == 10


# 4 ---------------------------------------------------------------- integrationLogs order
def test_4_oldest_first_beyond_a_hundred_pages_reaches_the_newest(
    slack: FakeSlack, tmp_path: Path
) -> None:
    t = now()
    slack.integration_order = "oldest_first"
    slack.add_integration(integration(i, t - 5000 + i) for i in range(121))
    settings = local_settings(tmp_path, source(slack, log_types=["integration"], page_size=1))

    [outcome] = once(settings)

    assert outcome.ok, outcome.detail
    assert len(landed(tmp_path, "Slack.IntegrationLogs")) == 121
    assert all(int(r.params["page"]) <= 100 for r in slack.requests)


def test_4_oldest_first_with_a_same_second_first_page(slack: FakeSlack, tmp_path: Path) -> None:
    t = now()
    slack.integration_order = "oldest_first"
    slack.add_integration(integration(i, t - 5000) for i in range(10))
    slack.add_integration(integration(10 + i, t - 4000 + i) for i in range(15))
    settings = local_settings(tmp_path, source(slack, log_types=["integration"], page_size=10))
    assert once(settings)[0].ok

    slack.add_integration(integration(100 + i, t - 10 + i) for i in range(3))
    [outcome] = once(settings)

    assert outcome.ok and outcome.result is not None and outcome.result.written == 3
    assert len(landed(tmp_path, "Slack.IntegrationLogs")) == 28


# 5 ---------------------------------------------------------------- repeated cursors
@pytest.mark.timeout(60)
def test_5_a_repeating_cursor_stops_the_poll_and_the_next_poll_finishes(
    slack: FakeSlack, tmp_path: Path
) -> None:
    t = now()
    slack.audit_max_page = 5
    slack.repeat_audit_cursor = 500
    slack.add_audit(audit(i, t - 10 - i) for i in range(30))
    settings = local_settings(tmp_path, source(slack, log_types=["audit"]))

    [looping] = once(settings)

    assert not looping.ok and "repeated a cursor" in looping.detail
    assert slack.count("logs") <= 3
    slack.repeat_audit_cursor = 0
    [outcome] = once(settings)
    assert outcome.ok
    ids = Counter(r["id"] for r in landed(tmp_path, "Slack.AuditLogs"))
    assert len(ids) == 30 and set(ids.values()) == {1}


# 6 ---------------------------------------------------------------- one 429 pauses the budget
def _client(
    slack: FakeSlack, budgets: RateBudgets, sleeps: list[float], source_id: str
) -> SlackClient:
    return SlackClient(
        source_id,
        SecretStr(TOKEN),
        audit_api_url=slack.audit_api_url,
        web_api_url=slack.web_api_url,
        http=httpx.Client(timeout=5),
        budgets=budgets,
        retry=RetryPolicy(attempts=3, initial_wait=0.01, max_retry_after=60),
        sleep=sleeps.append,
        audit_per_minute=10_000,
        web_per_minute=10_000,
    )


def test_6_retry_after_holds_every_caller_of_the_budget(slack: FakeSlack) -> None:
    budgets = RateBudgets()
    a_sleeps: list[float] = []
    b_sleeps: list[float] = []
    a, b = _client(slack, budgets, a_sleeps, "a"), _client(slack, budgets, b_sleeps, "b")
    slack.fail_next("logs", "429", retry_after=30)

    a.audit_logs({"limit": 1})
    b.audit_logs({"limit": 1})

    assert a_sleeps == [30.0]
    assert len(b_sleeps) == 1 and 29 < b_sleeps[0] <= 30, "the other source waits too"


def test_6_retry_after_beyond_the_cap_pauses_the_budget_not_the_process(slack: FakeSlack) -> None:
    budgets = RateBudgets()
    sleeps: list[float] = []
    a, b = _client(slack, budgets, sleeps, "a"), _client(slack, budgets, sleeps, "b")
    slack.fail_next("logs", "429", retry_after=3600)

    with pytest.raises(SlackRateLimitedError):
        a.audit_logs({"limit": 1})
    with pytest.raises(SlackRateLimitedError) as err:
        b.audit_logs({"limit": 1})

    assert slack.count("logs") == 1, "no call while the budget is paused"
    assert 3590 < err.value.retry_after <= 3600 and sleeps == []
    b.web("team.accessLogs", {"count": 1})
    assert slack.count("team.accessLogs") == 1, "other budgets keep going"


# 7 ---------------------------------------------------------------- backfill resumes
def test_7_backfill_without_until_resumes_where_it_stopped(
    slack: FakeSlack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    t = now()
    slack.add_audit(audit(i, t - 2 * 86400 + i * 600) for i in range(200))
    path = backfill_config(tmp_path, slack)
    slack.fail_request("logs", "html500", 5)
    since = str(t - 3 * 86400)
    assert main(["backfill", "--config", str(path), "--source", "acme", "--since", since]) == 1
    slack.on_request = None
    time.sleep(1.1)
    first_run = slack.count("logs")

    assert main(["backfill", "--config", str(path), "--source", "acme", "--since", since]) == 0

    rerun = slack.requests[first_run:]
    assert len(rerun) == 10 - 4 + 1, "resumed at the oldest second written, not from the top"
    ids = Counter(r["id"] for r in landed(tmp_path, "Slack.AuditLogs"))
    assert len(ids) == 200 and set(ids.values()) == {1}
    capsys.readouterr()
