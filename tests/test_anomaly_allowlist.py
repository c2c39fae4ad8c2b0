"""`slack-connector anomaly-allowlist show|sync` against the fake Slack over a real socket:
Slack's `updateItem` replaces the whole list, so sync shows the diff, asks, and refuses to
delete what only Slack holds unless `--replace`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from connector.cli.main import main
from connector.detections.allowlist import AllowList, AllowListError, diff, parse
from tests.factories import cli_source, config_file
from tests.fakes.slack_server import FakeSlack


def cfg(tmp_path: Path, slack: FakeSlack, **anomaly: Any) -> str:
    src = cli_source(slack, web_api_url=slack.web_api_url, web_calls_per_minute=100_000)
    return str(config_file(tmp_path, src, detections={"anomaly": anomaly}))


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["anomaly-allowlist", *argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    "spelling", [("trusted_cidrs", "trusted_asns"), ("trusted_cidr", "trusted_asn")]
)
def test_show_reads_either_spelling(
    slack: FakeSlack, tmp_path: Path, capsys: pytest.CaptureFixture[str], spelling: Any
) -> None:
    slack.admin.allow_spelling = spelling
    slack.admin.trusted_cidrs, slack.admin.trusted_asns = ["198.51.100.0/24"], [64500]
    code, out, _ = run(capsys, "show", "--config", cfg(tmp_path, slack))
    assert code == 0
    assert out.splitlines() == ["trusted_cidrs: 198.51.100.0/24", "trusted_asns: AS64500"]


def test_sync_shows_the_diff_asks_and_writes_the_whole_list(
    slack: FakeSlack, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: Any
) -> None:
    path = cfg(
        tmp_path,
        slack,
        trusted_cidrs=["203.0.113.0/24", "2001:db8::/32"],
        trusted_asns=[64500, "AS64501"],
    )
    monkeypatch.setattr("builtins.input", lambda prompt: "n")
    code, out, _ = run(capsys, "sync", "--config", path)
    assert code == 1 and slack.admin.updates == []
    assert out.splitlines() == ["+ 203.0.113.0/24", "+ AS64500", "+ AS64501", "not changed"]

    monkeypatch.setattr("builtins.input", lambda prompt: "y")
    code, out, _ = run(capsys, "sync", "--config", path)
    assert code == 0 and "1 added" not in out and "3 added, 0 removed" in out
    (update,) = slack.admin.updates
    assert update["trusted_cidr"] == update["trusted_cidrs"] == "203.0.113.0/24"  # IPv4 only
    assert update["trusted_asns"] == update["trusted_asn"] == "64500,64501"
    assert [r.verb for r in slack.requests if r.method.endswith("updateItem")] == ["POST"]

    code, out, _ = run(capsys, "sync", "--config", path, "--yes")
    assert code == 0 and "already matches" in out and len(slack.admin.updates) == 1


def test_sync_refuses_to_drop_what_only_slack_holds_unless_replace(
    slack: FakeSlack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    slack.admin.trusted_cidrs, slack.admin.trusted_asns = ["192.0.2.0/24"], []
    path = cfg(tmp_path, slack, trusted_cidrs=["203.0.113.0/24"])
    code, out, err = run(capsys, "sync", "--config", path, "--yes")
    assert code == 1 and slack.admin.updates == []
    assert "- 192.0.2.0/24" in out and "--replace" in err
    code, out, _ = run(capsys, "sync", "--config", path, "--yes", "--replace")
    assert code == 0 and slack.admin.trusted_cidrs == ["203.0.113.0/24"]


def test_a_slack_error_is_reported_without_the_token(
    slack: FakeSlack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    slack.set_error("admin.audit.anomaly.allow.getItem", "missing_scope")
    code, _, err = run(capsys, "show", "--config", cfg(tmp_path, slack))
    assert code == 1 and "missing_scope" in err and "xoxp" not in err
    code, _, err = run(capsys, "show", "--config", cfg(tmp_path, slack), "--source", "nope")
    assert code == 2 and "--source" in err


def test_parse_and_diff_units() -> None:
    got = parse(
        {"ok": True, "item": {"trusted_cidr": "10.0.0.0/8, 192.0.2.1", "trusted_asn": ["AS7"]}}
    )
    assert got == AllowList(frozenset({"10.0.0.0/8", "192.0.2.1/32"}), frozenset({7}))
    with pytest.raises(AllowListError):
        parse({"trusted_cidrs": ["not a network"]})
    assert parse({"ok": True}) == AllowList(frozenset(), frozenset())
    change = diff(got, AllowList(frozenset({"10.0.0.0/8"}), frozenset({7, 8})))
    assert change.lines() == ["+ AS8", "- 192.0.2.1/32"]
