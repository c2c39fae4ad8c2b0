"""Access logs: each (user, IP, user agent) once, across mutations and restarts."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from connector.paging import limits
from tests.conftest import local_settings, once, read_local, source
from tests.factories import access, now
from tests.fakes.slack_server import FakeSlack


def combos(tmp_path: Path) -> Counter[tuple[str, str, str]]:
    rows = read_local(tmp_path / "out", "slack/Slack.AccessLogs")
    return Counter((r["user_id"], r["ip"], r["user_agent"]) for r in rows)


@pytest.mark.parametrize("sort_key", ["date_last", "date_first"])
def test_each_combination_lands_once_across_mutations_and_restarts(
    slack: FakeSlack, tmp_path: Path, sort_key: str
) -> None:
    t = now()
    slack.access_sort_key = sort_key
    slack.access_before_field = sort_key
    slack.add_access(access(f"U{i}", f"198.51.100.{i}", "Slack/1", t - 600 - i) for i in range(30))
    settings = local_settings(tmp_path, source(slack, log_types=["access"], page_size=7))

    assert once(settings)[0].ok
    assert len(combos(tmp_path)) == 30

    for i in range(30):
        slack.touch_access(f"U{i}", f"198.51.100.{i}", "Slack/1", t - 1)
    slack.add_access([access("U1", "198.51.100.1", "Slack/2", t - 1)])
    slack.add_access([access("U99", "198.51.100.1", "Slack/1", t - 1)])
    [outcome] = once(settings)

    assert outcome.ok, outcome.detail
    got = combos(tmp_path)
    assert len(got) == 32 and set(got.values()) == {1}
    assert outcome.result.written == 2


@pytest.mark.parametrize("cursor", ["offset", "error"])
def test_steady_state_reads_only_the_pages_it_needs(
    slack: FakeSlack, tmp_path: Path, cursor: str
) -> None:
    """A first run is a backlog: one page of up to 1000 (after one refused cursor request
    in classic mode); steady state asks for the configured page size."""
    t = now()
    slack.access_cursor = cursor
    slack.add_access(
        access(f"U{i}", "198.51.100.7", "Slack/1", t - 3600 - 100 * i) for i in range(50)
    )
    settings = local_settings(tmp_path, source(slack, log_types=["access"], page_size=10))
    once(settings)
    first = slack.count("team.accessLogs")
    assert first == (1 if cursor == "offset" else 2)
    assert len(combos(tmp_path)) == 50

    slack.add_access([access("U500", "198.51.100.8", "Slack/1", t)])
    [outcome] = once(settings)

    [steady] = slack.requests[first:]
    assert steady.params.get("limit" if cursor == "offset" else "count") == "10"
    assert outcome.result.written == 1


def test_first_run_stops_at_the_lookback(
    slack: FakeSlack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(limits, "MAX_COUNT", 10)
    t = now()
    slack.add_access(access(f"U{i}", "198.51.100.1", "UA", t - 3000 * i) for i in range(100))
    settings = local_settings(
        tmp_path, source(slack, log_types=["access"], first_run_lookback_seconds=30_000)
    )
    once(settings)
    assert slack.count("team.accessLogs") == 2
    assert len(combos(tmp_path)) == 20, "rows 0-9, then 10-19, whose last is past the lookback"
