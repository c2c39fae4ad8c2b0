"""Backfill (resumable, deduplicated against the daemon) and `state show|reset`."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from connector.cli.main import main
from tests.conftest import read_local
from tests.factories import audit, cli_source, config_file, now
from tests.fakes.slack_server import FakeSlack


def config(tmp_path: Path, slack: FakeSlack) -> Path:
    source = cli_source(slack, page_size=20, retry_attempts=1)
    return config_file(tmp_path, source, metrics={"enabled": False})


def landed(tmp_path: Path) -> Counter[str]:
    return Counter(r["id"] for r in read_local(tmp_path / "out", "slack/Slack.AuditLogs"))


def test_backfill_resumes_and_never_duplicates_the_daemon(
    slack: FakeSlack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    t = now()
    slack.add_audit(audit(i, t - 3 * 86400 + i * 600) for i in range(3 * 144))
    path = config(tmp_path, slack)
    assert main(["once", "--config", str(path)]) == 0
    daemon = len(landed(tmp_path))
    assert 140 <= daemon <= 146

    slack.fail_request("logs", "html500", 4)
    since = str(t - 4 * 86400)
    assert main(["backfill", "--config", str(path), "--source", "acme", "--since", since]) == 1
    assert "rerun to resume" in capsys.readouterr().err
    partial = len(landed(tmp_path))
    assert daemon < partial < 3 * 144

    slack.on_request = None
    requests_before = slack.count("logs")
    assert main(["backfill", "--config", str(path), "--source", "acme", "--since", since]) == 0
    ids = landed(tmp_path)
    assert len(ids) == 3 * 144 and set(ids.values()) == {1}
    assert slack.count("logs") - requests_before < 3 * 144 // 20 + 3, "resumed, not restarted"
    assert "written=" in capsys.readouterr().err

    assert main(["backfill", "--config", str(path), "--source", "acme", "--since", since]) == 0
    assert len(landed(tmp_path)) == 3 * 144


def test_state_show_and_reset(
    slack: FakeSlack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    slack.add_audit(audit(i, now() - 5) for i in range(3))
    path = config(tmp_path, slack)
    main(["once", "--config", str(path)])
    capsys.readouterr()

    assert main(["state", "show", "--config", str(path)]) == 0
    row, lists = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert row["source_id"] == "acme" and row["log_type"] == "audit"
    assert lists["slack_action_lists"]["actions"] > 0
    assert (
        row["seen"] == 3 and row["status"]["state"] == "ok" and "next_oldest" in row["checkpoint"]
    )

    with pytest.raises(SystemExit) as usage:
        main(["state", "reset", "--config", str(path), "--source", "acme"])
    assert usage.value.code == 2
    assert (
        main(
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
        == 0
    )
    capsys.readouterr()
    main(["state", "show", "--config", str(path)])
    nothing, lists = capsys.readouterr().out.strip().splitlines()
    assert nothing == f"no state recorded yet in {tmp_path / 'state.db'}"
    assert "slack_action_lists" in lists  # Slack's, not the source's: kept
