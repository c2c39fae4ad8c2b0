"""An operator's first hour, through the command line as they meet it: text logs that say
what happened, an empty alert setup said out loud, search on a bare directory, usage
errors that exit 2 and messages that say the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from connector.cli.main import main
from connector.cli.parser import build_parser
from tests.conftest import TOKEN
from tests.factories import audit, cli_source, config_file, now
from tests.fakes.slack_server import FakeSlack

DEAD = "http://127.0.0.1:9/"


def test_text_logs_say_source_log_type_counts_and_the_error(
    slack: FakeSlack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    slack.add_audit(audit(i, now() - 5) for i in range(3))
    good = config_file(tmp_path, cli_source(slack))
    assert main(["once", "--config", str(good), "--log-format", "text"]) == 0
    [done] = [x for x in capsys.readouterr().err.splitlines() if "poll done" in x]
    assert "source_id=acme" in done and "log_type=audit" in done and "written=3" in done

    dead = cli_source(
        None, audit_api_url=DEAD + "audit/v1/", retry_attempts=2, retry_backoff_seconds=0.01
    )
    bad = config_file(tmp_path, dead, name="dead.toml")
    assert main(["--log-format", "text", "once", "--config", str(bad)]) == 1
    err = capsys.readouterr().err
    [retry] = [x for x in err.splitlines() if "retrying" in x]
    assert "source_id=acme" in retry and "attempt=1" in retry and "slack-connector check" in retry
    [failed] = [x for x in err.splitlines() if "poll failed" in x]
    assert "log_type=audit" in failed and "error=" in failed


def test_global_flags_are_taken_after_the_verb_and_listed_in_its_help(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = build_parser().parse_args(["state", "show", "-c", "x.toml", "--log-level", "DEBUG"])
    assert args.log_level == "DEBUG" and args.log_format == "json"
    args = build_parser().parse_args(["--log-format", "text", "once", "-c", "x.toml"])
    assert args.log_format == "text", "given before the verb, it is not reset by the verb"
    with pytest.raises(SystemExit):
        main(["once", "--help"])
    assert "--log-format" in capsys.readouterr().out


def test_run_and_check_say_that_alerts_go_nowhere(
    slack: FakeSlack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = config_file(tmp_path, cli_source(slack))
    assert main(["check", "--config", str(path)]) == 0
    assert "WARN alerts: no destination configured" in capsys.readouterr().out


def test_search_on_a_bare_directory_and_its_usage_errors(
    slack: FakeSlack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    slack.add_audit(audit(i, now() - 5) for i in range(3))
    assert main(["once", "--config", str(config_file(tmp_path, cli_source(slack)))]) == 0
    capsys.readouterr()
    assert main(["search", "--path", str(tmp_path / "out"), "W000001"]) == 0
    captured = capsys.readouterr()
    assert "user:W000001" in captured.out and "1 matching event(s)" in captured.err
    with pytest.raises(SystemExit) as usage:
        main(["search", "--path", str(tmp_path / "out"), "--log-type", "audits", "x"])
    assert usage.value.code == 2
    assert "invalid choice: 'audits'" in capsys.readouterr().err
    assert main(["search", "--path", str(tmp_path / "out"), "--since", "yesterday", "x"]) == 2
    assert "give a UTC date or time" in capsys.readouterr().err


def test_watchlist_show_before_the_first_poll_lists_the_configured_indicators(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = config_file(
        tmp_path,
        cli_source(None),
        state={"path": str(tmp_path / "var" / "state.db")},
        watchlist={"indicators": ["203.0.113.7", "mallory@example.com"]},
    )
    assert main(["watchlist", "show", "--config", str(path)]) == 0
    captured = capsys.readouterr()
    assert "ip:203.0.113.7  (config)" in captured.out
    assert "email:mallory@example.com  (config)" in captured.out
    assert "no state yet" in captured.err
    assert not (tmp_path / "var").exists()


def test_an_inline_token_is_refused_with_the_fix_and_not_repeated(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = {k: v for k, v in cli_source(None).items() if k != "token_env"}
    path = config_file(tmp_path, {**source, "token": TOKEN})
    assert main(["check", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "sources[0].token: a secret is never written in the config file" in err
    assert 'token_env = "VAR"' in err and TOKEN not in err
