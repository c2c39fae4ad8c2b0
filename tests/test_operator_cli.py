"""The CLI as on-call and a newcomer use it: beside a running daemon, without the Slack
token when it is not needed, with every secret checked up front and never printed."""

from __future__ import annotations

import json
import logging
import re
import time
import tomllib
from pathlib import Path
from typing import Any

import pytest

from connector.alerts.base import Alert, DeliveryError
from connector.alerts.destinations import build, options_model
from connector.alerts.dispatch import Dispatcher
from connector.cli import check
from connector.cli.main import main, say
from connector.cli.parser import build_parser
from connector.config.errors import ConfigError
from connector.config.load import load
from connector.state.sqlite import StateStore
from tests.conftest import TOKEN_ENV, read_local
from tests.factories import audit, cli_source, config_file, now
from tests.fakes.slack_server import FakeSlack
from tests.fakes.webhook_receiver import WebhookReceiver

ROOT = Path(__file__).resolve().parents[1]
HOOK_PATH = "/webhook/abcdEFGH1234ijkl5678mnop"


def config(tmp_path: Path, slack: FakeSlack | None = None, **tables: Any) -> Path:
    """Slack on 127.0.0.1:9 (connection refused) unless a fake is given; state in `var/`."""
    return config_file(
        tmp_path,
        cli_source(
            slack,
            audit_api_url=slack.audit_api_url if slack else "http://127.0.0.1:9/audit/v1/",
            web_api_url=slack.web_api_url if slack else "http://127.0.0.1:9/api/",
            audit_calls_per_minute=None,
            retry_attempts=5,
            retry_backoff_seconds=2,
        ),
        state={"path": str(tmp_path / "var" / "state.db")},
        **tables,
    )


# -- item 13: read-only commands beside a running daemon --------------------------------


def test_check_and_state_show_run_while_the_daemon_holds_the_lock(
    slack: FakeSlack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    slack.add_audit(audit(i, now() - 5) for i in range(2))
    path = config(tmp_path, slack)
    assert main(["once", "--config", str(path)]) == 0
    capsys.readouterr()
    daemon = StateStore(tmp_path / "var" / "state.db")  # holds the single-process lock
    try:
        assert main(["once", "--config", str(path)]) == 1  # a writer is still refused
        assert "in use by another slack-connector process" in capsys.readouterr().err
        assert main(["state", "show", "--config", str(path)]) == 0
        row, lists = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
        assert row["seen"] == 2
        assert lists["slack_action_lists"]["actions"] > 0  # read by `once` at start
        assert main(["check", "--config", str(path)]) == 0
        out = capsys.readouterr().out
        assert "OK   state: readable" in out and "OK   source acme audit" in out
    finally:
        daemon.close()


# -- item 14: state without the token, readable output, honest reset, a quick check -----


def test_state_commands_need_no_token_and_say_when_there_is_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(TOKEN_ENV)
    path = config(tmp_path)
    assert main(["state", "show", "--config", str(path)]) == 0
    out = capsys.readouterr().out
    assert "no state yet" in out and "nothing has been polled" in out
    assert not (tmp_path / "var").exists()
    assert (
        main(
            [
                "state",
                "reset",
                "--config",
                str(path),
                "--source",
                "nosuch",
                "--log-type",
                "audit",
                "--yes",
            ]
        )
        == 0
    )
    captured = capsys.readouterr()
    assert "nothing to reset" in captured.err and "not in" in captured.err
    assert "reset source" not in captured.out
    assert not (tmp_path / "var").exists(), "a reset of nothing creates no state"


def test_state_show_prints_rfc3339_times(
    slack: FakeSlack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    slack.add_audit(audit(i, now() - 5) for i in range(2))
    path = config(tmp_path, slack)
    main(["once", "--config", str(path)])
    capsys.readouterr()
    assert main(["state", "show", "--config", str(path)]) == 0
    row, lists = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    stamp = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
    for value in (
        row["status"]["last_success"],
        row["status"]["first_poll"],
        row["status"]["last_landed"],
        row["status"]["newest_event"],
        row["checkpoint"]["next_oldest"],
        row["checkpoint"]["newest"],
        lists["slack_action_lists"]["fetched_at"],
    ):
        assert isinstance(value, str) and stamp.match(value), value
    newest = max(r["p_event_time"] for r in read_local(tmp_path / "out"))
    assert row["status"]["newest_event"] == newest.split(".")[0].removesuffix("Z") + "Z"
    assert "last_event" not in row["status"] and "credential" not in row["status"]


def test_check_fails_fast_prints_as_it_goes_and_creates_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = config(tmp_path)  # Slack on 127.0.0.1:9: connection refused
    settings = load(path, secrets=False)
    lines = check.run(settings)
    first = next(lines)
    assert first.name == "state" and first.ok  # answered before Slack was tried
    started = time.monotonic()
    rest = list(lines)
    assert time.monotonic() - started < 5, "no retries with backoff against a dead URL"
    assert [x.name for x in rest] == ["output local", "alerts", "source acme audit"]
    assert rest[1].warn and "no destination configured" in rest[1].detail
    assert not rest[-1].ok and "connection error" in rest[-1].detail
    assert main(["check", "--config", str(path)]) == 1
    assert not (tmp_path / "var").exists() and not (tmp_path / "out").exists()


# -- item 5: every secret reference is read up front --------------------------------------


def test_a_missing_secret_is_named_by_check_and_at_start_up(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("UNSET_HOOK", raising=False)
    hook = {"type": "webhook", "url": {"env": "UNSET_HOOK"}}
    path = config(tmp_path, alerts={"destinations": [hook]})
    with pytest.raises(
        ConfigError, match=r"alerts\.destinations\[0\]\.url: environment variable UNSET_HOOK"
    ):
        load(path)
    assert main(["once", "--config", str(path)]) == 2
    assert "alerts.destinations[0].url" in capsys.readouterr().err
    assert main(["check", "--config", str(path)]) == 2
    assert "FAIL secret alerts.destinations[0].url: environment variable UNSET_HOOK is not set" in (
        capsys.readouterr().out
    )


# -- item 6: https only, except loopback ------------------------------------------------


@pytest.mark.parametrize("field", ["web_api_url", "audit_api_url"])
def test_plain_http_slack_urls_are_refused(field: str) -> None:
    from connector.config.load import parse

    source = {"id": "a", "token_env": TOKEN_ENV, field: "http://slack.example.com/api/"}
    with pytest.raises(ConfigError, match=rf"sources\[0\]\.{field}: must be an https URL"):
        parse({"sources": [source]})


def test_plain_http_oauth_and_alert_urls_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from connector.config.load import parse

    base = {"sources": [{"id": "a", "token_env": TOKEN_ENV}]}
    for url_field in ("token_url", "authorize_url"):
        oauth = {"client_id": "1.2", "client_secret": {"env": "X"}, url_field: "http://slack.com/x"}
        with pytest.raises(ConfigError, match=rf"sources\[0\]\.oauth\.{url_field}.*https"):
            parse({"sources": [{"id": "a", "oauth": oauth}]})
    pd = {"type": "pagerduty", "routing_key": {"env": "X"}, "url": "http://events.example.com/"}
    with pytest.raises(ConfigError, match=r"alerts\.destinations\[0\]\.url.*https"):
        parse({**base, "alerts": {"destinations": [pd]}})
    monkeypatch.setenv("HOOK", "http://hooks.example.com/services/x")
    hook = {"type": "slack_webhook", "url": {"env": "HOOK"}}
    settings = parse({**base, "alerts": {"destinations": [hook]}})
    path = config(tmp_path, alerts={"destinations": [hook]})
    with pytest.raises(ConfigError, match=r"alerts\.destinations\[0\]\.url: must be an https URL"):
        load(path)
    with pytest.raises(DeliveryError, match="url must be an https URL"):
        build(settings.alerts.destinations[0]).send(ALERT)
    # Loopback http stays allowed: tests and local fakes.
    parse(
        {"sources": [{"id": "a", "token_env": TOKEN_ENV, "web_api_url": "http://localhost:1/api/"}]}
    )


# -- item 4: no part of a secret URL is logged or printed -----------------------------------

ALERT = Alert(
    key="acme:audit:no_events",
    rule="no_events",
    status="trigger",
    source_id="acme",
    source_label="Acme",
    log_type="audit",
    summary="quiet",
    detail="quiet",
    since=0,
)


def test_an_echoed_webhook_path_never_reaches_logs_or_errors(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from connector.logs import REDACTOR

    with WebhookReceiver() as receiver:
        url = receiver.url(HOOK_PATH + "?key=q0e1r2t3y4u5")
        monkeypatch.setenv("HOOK_URL", url)
        dest = build(
            options_model("webhook").model_validate({"type": "webhook", "url": {"env": "HOOK_URL"}})
        )
        echo = f"upstream error for {HOOK_PATH} (key=q0e1r2t3y4u5)".encode()
        receiver.fail_next(1, status=500, body=echo)
        with pytest.raises(DeliveryError) as err:
            dest.send(ALERT)
        assert "upstream error for [REDACTED]" in str(err.value)
        assert "abcdEFGH1234ijkl5678mnop" not in str(err.value) and "q0e1r2t3y4u5" not in str(
            err.value
        )
        receiver.fail_next(1, status=500, body=echo)
        caplog.set_level(logging.WARNING, logger="connector.alerts.dispatch")
        with Dispatcher([dest], attempts=2, backoff=0.01, sleep=lambda _: None) as dispatcher:
            dispatcher.submit(ALERT)
            dispatcher.flush(10)
    logged = "\n".join(REDACTOR.scrub(r.getMessage()) for r in caplog.records)
    assert "retrying" in logged
    assert "abcdEFGH1234ijkl5678mnop" not in logged and "q0e1r2t3y4u5" not in logged


def test_cli_output_is_scrubbed_of_secret_url_parts(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from connector.secrets import SecretRef

    monkeypatch.setenv("HOOK_URL", "https://hooks.example.com" + HOOK_PATH)
    SecretRef(env="HOOK_URL").resolve()
    say(f"slack-connector: backfill stopped: 500 for {HOOK_PATH}; rerun to resume")
    out = capsys.readouterr().out
    assert "abcdEFGH1234ijkl5678mnop" not in out and "[REDACTED]" in out


# -- item 16: help for every option, a user-facing top level ---------------------------


def test_every_command_and_option_has_help() -> None:
    parser = build_parser()
    assert "developer" not in (parser.description or "") and "Slack" in (parser.description or "")
    assert "parse the command line" not in parser.format_help()

    def walk(p: object, name: str) -> None:
        for action in p._actions:  # type: ignore[attr-defined]
            if action.choices and hasattr(action, "_name_parser_map"):
                for sub, subparser in action._name_parser_map.items():
                    walk(subparser, f"{name} {sub}")
            elif action.dest not in ("help", "command", "action"):
                assert action.help, f"{name}: {action.option_strings or action.dest} has no help"

    walk(parser, "slack-connector")
    show = parser._subparsers._group_actions[0].choices["state"]  # type: ignore[union-attr]
    show_help = show._subparsers._group_actions[0].choices["show"].format_help()  # type: ignore[union-attr]
    assert "RFC 3339" in show_help and "--yes" not in show_help


def test_repository_hygiene() -> None:
    ignored = (ROOT / ".gitignore").read_text().split()
    assert "/demo-output/" in ignored and "*.egg-info/" in ignored
    docker = (ROOT / ".dockerignore").read_text().split()
    assert ".venv/" in docker and ".git/" in docker
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert isinstance(project["project"]["license"], str)
    index = ROOT / ".git"
    if index.is_dir() or index.is_file():
        import subprocess

        tracked = subprocess.run(
            ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout
        assert ".egg-info/" not in tracked


def test_the_conformance_corpus_is_inside_the_repository() -> None:
    from tests.conftest import CONFORMANCE

    assert CONFORMANCE.is_dir() and ROOT in CONFORMANCE.parents
    assert (CONFORMANCE / "SOURCES.md").is_file()
    outside = re.compile(r"""parents?\[?\d*\]?\s*/\s*["']\.\.["']|["']shared["']""")
    for test in ROOT.glob("tests/**/*.py"):
        if test.name != Path(__file__).name:
            assert not outside.search(test.read_text()), test
