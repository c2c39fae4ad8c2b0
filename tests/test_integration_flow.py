"""Integration logs: no id, no time filter; each record lands once whatever the order."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import local_settings, once, read_local, source
from tests.factories import integration, now
from tests.fakes.slack_server import FakeSlack


@pytest.mark.parametrize("order", ["newest_first", "oldest_first"])
def test_each_record_once_in_either_order(slack: FakeSlack, tmp_path: Path, order: str) -> None:
    t = now()
    slack.integration_order = order
    slack.add_integration(integration(i, t - 7200 + i) for i in range(25))
    settings = local_settings(tmp_path, source(slack, log_types=["integration"], page_size=4))

    assert once(settings)[0].ok
    slack.add_integration(integration(i, t - 10 + i - 100) for i in range(100, 103))
    [outcome] = once(settings)

    assert outcome.ok, outcome.detail
    rows = read_local(tmp_path / "out", "slack/Slack.IntegrationLogs")
    keys = [(r["user_id"], r["date"]) for r in rows]
    assert len(keys) == 28 and len(set(keys)) == 28
    assert outcome.result.written == 3
    assert {type(r.get("service_id")) for r in rows if "service_id" in r} == {int}


def test_steady_state_reads_one_page(slack: FakeSlack, tmp_path: Path) -> None:
    t = now()
    slack.add_integration(integration(i, t - 90_000 + 100 * i) for i in range(40))
    settings = local_settings(
        tmp_path,
        source(slack, log_types=["integration"], page_size=10, first_run_lookback_seconds=10**6),
    )
    once(settings)
    before = slack.count("team.integrationLogs")
    once(settings)
    assert slack.count("team.integrationLogs") - before == 2, (
        "page 1, and the last page for the order"
    )
