"""Enterprise Grid, one org-level install for every workspace (`team_ids`), against the fake
Slack over real sockets: admin.teams.list over several pages, team.* answered per
`team_id` (an org token without one is refused), each (source, workspace, log type) its
own stream, with its own checkpoint and seen keys, on SQLite and on DynamoDB leases."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from connector.cli import check
from connector.config.load import parse
from connector.config.settings import Settings
from connector.service import workspaces
from connector.service.app import App
from tests.conftest import dynamodb_options, once, read_local, source
from tests.factories import access, integration, now
from tests.fakes.slack_server import FakeSlack

TEAMS = ("T0AAA", "T0BBB", "T0CCC")


def grid(slack: FakeSlack, t: int) -> None:
    """Three workspaces, two admin.teams.list pages; each with its own people and apps
    (the same user id in two workspaces is two rows: the workspace is in the key)."""
    slack.admin.teams_page = 2
    for n, team in enumerate(TEAMS):
        logs = slack.add_workspace(team, f"ws{n}")
        logs.add_access([access("U1", f"198.51.100.{n}", "Slack/1", t - 600 + n)])
        logs.add_access(
            [access(f"U{n}{i}", "203.0.113.9", "Slack/1", t - 500 + i) for i in range(3)]
        )
        logs.add_integration([integration(10 * n + i, t - 400 + i) for i in range(2)])


def settings(tmp_path: Path, slack: FakeSlack, state: Any = None, **src: Any) -> Settings:
    return parse(
        {
            "state": state or {"path": str(tmp_path / "state.db")},
            "output": {"type": "local", "path": str(tmp_path / "out")},
            "alerts": {"no_events_after_seconds": 0},
            "sources": [
                source(slack, log_types=["access", "integration"], **{"team_ids": "all", **src})
            ],
        }
    )


@pytest.mark.parametrize("store", ["sqlite", "dynamodb"])
def test_three_workspaces_land_exactly_once_each_with_their_own_checkpoints(
    slack: FakeSlack, tmp_path: Path, store: str, request: pytest.FixtureRequest
) -> None:
    t = now()
    grid(slack, t)
    state = None
    if store == "dynamodb":
        endpoint = request.getfixturevalue("moto_endpoint")
        table = dynamodb_options(endpoint).table
        state = {"type": "dynamodb", "table": table, "region": "us-east-1",
                 "endpoint_url": endpoint, "max_attempts": 2}  # fmt: skip
    cfg = settings(tmp_path, slack, state)

    outcomes = once(cfg)

    assert sorted((o.source_id, o.log_type) for o in outcomes) == sorted(
        (f"acme@{team}", lt) for team in TEAMS for lt in ("access", "integration")
    )
    assert all(o.ok for o in outcomes), [o.detail for o in outcomes]
    rows = read_local(tmp_path / "out")
    access_rows = [r for r in rows if r["p_log_type"] == "Slack.AccessLogs"]
    assert len(access_rows) == 12 and len({r["p_row_id"] for r in access_rows}) == 12
    assert sorted({r["p_slack_team_id"] for r in rows}) == list(TEAMS)
    assert all(r["p_source_id"] == "acme" for r in rows)
    assert sum(1 for r in rows if r["p_log_type"] == "Slack.IntegrationLogs") == 6
    names = [p.name for p in (tmp_path / "out").rglob("*.json.gz")]
    assert {n.split("_")[1] for n in names} == set(TEAMS)
    pages = [r for r in slack.requests if r.method == "admin.teams.list"]
    assert len(pages) == 2 and "team_id" not in pages[0].params
    asked = {r.params.get("team_id") for r in slack.requests if r.method.startswith("team.")}
    assert asked == set(TEAMS)

    again = once(cfg)
    assert all(o.ok for o in again) and sum(o.result.written for o in again) == 0
    opened = cfg.state.open(replica=False) if store == "dynamodb" else cfg.state.open()
    try:
        for team in TEAMS:
            for log_type in ("access", "integration"):
                assert opened.checkpoint(f"acme@{team}", log_type) is not None
        assert opened.checkpoint("acme", "access") is None
        assert opened.count_seen(f"acme@{TEAMS[0]}", "access") == 4
    finally:
        opened.close()


def test_an_org_token_without_team_id_is_refused(slack: FakeSlack, tmp_path: Path) -> None:
    grid(slack, now())
    cfg = settings(tmp_path, slack, team_ids=None)
    outcomes = once(cfg)
    assert [o.state for o in outcomes] != ["ok", "ok"]
    assert all("missing_argument" in o.detail for o in outcomes)


def test_workspaces_come_and_go_and_a_failing_list_keeps_them(
    slack: FakeSlack,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    t = now()
    grid(slack, t)
    cfg = settings(tmp_path, slack)
    once(cfg)
    monkeypatch.setattr(workspaces, "REFRESH_SECONDS", 0)

    slack.set_error("admin.teams.list", "internal_error")
    kept = once(cfg)
    assert len(kept) == 6 and all(o.ok for o in kept)
    assert "keeping the workspaces known before" in caplog.text
    slack.set_error("admin.teams.list", None)

    late = slack.add_workspace("T0DDD", "late")
    late.add_access([access("U9", "192.0.2.1", "Slack/1", t - 100)])
    slack.admin.remove_team(TEAMS[0])
    with caplog.at_level(logging.INFO):
        moved = once(cfg)
    assert sorted({o.source_id for o in moved}) == ["acme@T0BBB", "acme@T0CCC", "acme@T0DDD"]
    assert [r["user_id"] for r in read_local(tmp_path / "out", "slack/Slack.AccessLogs")
            if r["p_slack_team_id"] == "T0DDD"] == ["U9"]  # fmt: skip
    assert "no longer listed by admin.teams.list" in caplog.text
    assert "new workspace" in caplog.text


def test_check_calls_once_per_workspace(slack: FakeSlack, tmp_path: Path) -> None:
    grid(slack, now())
    lines = list(check.run(settings(tmp_path, slack)))
    names = [line.name for line in lines if line.name.startswith("source")]
    assert names == [
        f"source acme@{team} {lt}" for lt in ("access", "integration") for team in TEAMS
    ]
    assert all(line.ok for line in lines if line.name.startswith("source"))


def test_state_show_and_metrics_list_the_workspaces(slack: FakeSlack, tmp_path: Path) -> None:
    import argparse
    import json

    from prometheus_client import generate_latest

    from connector.cli.state import state_show

    grid(slack, now())
    cfg = settings(tmp_path, slack)
    app = App(cfg)
    try:
        app.once()
        metrics = generate_latest(app.metrics.registry).decode()
    finally:
        app.close()
    for team in TEAMS:
        assert f'slack_connector_workspace{{source_id="acme",team_id="{team}"}} 1.0' in metrics
        assert f'source_id="acme@{team}"' in metrics  # every stream's own series
    lines: list[str] = []
    assert (
        state_show(cfg, argparse.Namespace(source="acme"), lambda t, _: lines.append(t), None) == 0
    )  # type: ignore[arg-type]
    parsed = [json.loads(line) for line in lines]
    streams = {(p["source_id"], p["log_type"]) for p in parsed if "source_id" in p}
    assert len(streams) == 6
    [kept] = [p for p in parsed if p.get("workspaces_of") == "acme"]
    assert sorted(kept["teams"]) == list(TEAMS)
    assert kept["teams"]["T0AAA"]["name"] == "ws0" and kept["refreshed_at"].endswith("Z")


def test_each_workspace_has_its_own_budget_per_method(slack: FakeSlack) -> None:
    """Slack's Web API tiers count per method and workspace: reading one workspace hard
    never slows another, while the Audit API keeps one budget for the organisation."""
    import httpx
    from pydantic import SecretStr

    from connector.slack.client import SlackClient
    from connector.slack.ratelimit import RateBudgets
    from tests.conftest import TOKEN

    grid(slack, now())
    budgets = RateBudgets()
    with httpx.Client() as http:
        for team in (*TEAMS[:2], None):
            client = SlackClient(
                "acme",
                SecretStr(TOKEN),
                audit_api_url=slack.audit_api_url,
                web_api_url=slack.web_api_url,
                http=http,
                budgets=budgets,
                sleep=lambda s: None,
                team_id=team,
            )
            if team:
                client.web("team.integrationLogs", {"count": 10})
            client.audit_logs({"limit": 10})
    names = sorted(name for _, name in budgets._buckets)
    assert names == ["audit", "team.integrationLogs@T0AAA", "team.integrationLogs@T0BBB"]
