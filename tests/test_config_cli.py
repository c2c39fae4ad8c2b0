"""Config validation and the CLI: clear errors naming the field, exit codes, no secrets printed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from connector.cli.main import main
from connector.config.errors import ConfigError
from connector.config.load import load
from tests.conftest import TOKEN, TOKEN_ENV
from tests.factories import audit, now
from tests.fakes.slack_server import FakeSlack

GOOD = f"""
[state]
path = "{{tmp}}/state.db"

[output]
type = "local"
path = "{{tmp}}/out"

[[sources]]
id = "acme"
token_env = "{TOKEN_ENV}"
log_types = ["audit"]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text.replace("{tmp}", str(tmp_path)))
    return path


@pytest.mark.parametrize(
    ("mutation", "expected"),
    [
        (('log_types = ["audit"]', 'log_types = ["audit", "files"]'), "sources[0].log_types"),
        (('type = "local"', 'type = "s3"'), "output.bucket"),
        (('type = "local"', 'type = "ftp"'), "output.type"),
        (
            ('id = "acme"', 'id = "acme"\npoll_interval_seconds = 0'),
            "sources[0].poll_interval_seconds",
        ),
        (
            ('id = "acme"', 'id = "acme"\npol_interval_seconds = 60'),
            "sources[0].pol_interval_seconds",
        ),
        ((f'token_env = "{TOKEN_ENV}"', 'token_file = "/nonexistent/token"'), "token_file"),
        (
            (f'token_env = "{TOKEN_ENV}"', ""),
            "sources[0]: set exactly one of token_env, token_file, token or oauth",
        ),
        ((f'token_env = "{TOKEN_ENV}"', 'token_env = "NOT_SET_ANYWHERE"'), "token_env"),
        (("[state]", "[state"), "invalid TOML"),
        (("[output]", '[ocsf]\nmapper = "bogus"\n\n[output]'), "ocsf.mapper"),
    ],
)
def test_bad_config_names_the_field_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], mutation: tuple[str, str], expected: str
) -> None:
    path = write(tmp_path, GOOD.replace(*mutation))
    with pytest.raises(ConfigError) as err:
        load(path)
    assert expected in str(err.value)
    assert main(["once", "--config", str(path)]) == 2
    assert expected in capsys.readouterr().err


def test_environment_overrides(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    settings = load(
        path,
        {
            "SLACK_CONNECTOR__OUTPUT__PREFIX": "/siem/slack/",
            "SLACK_CONNECTOR__SOURCES__0__POLL_INTERVAL_SECONDS": "120",
            "SLACK_CONNECTOR__SOURCES__0__LOG_TYPES": '["audit", "access"]',
            TOKEN_ENV: TOKEN,
        },
    )
    assert settings.output.prefix == "siem/slack"
    assert settings.sources[0].poll_interval_seconds == 120
    assert settings.sources[0].log_types == ["audit", "access"]


def test_token_never_appears_in_settings_repr(tmp_path: Path) -> None:
    settings = load(write(tmp_path, GOOD))
    assert TOKEN not in repr(settings) and TOKEN not in repr(settings.sources[0].read_token())


def test_example_config_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_TOKEN_ACME", TOKEN)
    example = Path(__file__).parents[1] / "config.example.toml"
    settings = load(example)
    assert settings.sources and settings.output.type == "local"


def test_once_and_check_over_the_wire(slack: FakeSlack, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    slack.add_audit(audit(i, now() - 5) for i in range(4))
    text = GOOD + f'audit_api_url = "{slack.audit_api_url}"\nweb_api_url = "{slack.web_api_url}"\n'
    path = write(tmp_path, text.replace('["audit"]', '["audit", "access", "integration"]'))

    assert main(["check", "--config", str(path)]) == 0
    out = capsys.readouterr().out
    assert (
        out.count("OK ") == 5
        and "OK   state: no state file yet" in out
        and "source acme audit" in out
    )

    assert main(["once", "--config", str(path)]) == 0
    assert "acme audit: ok written=4" in capsys.readouterr().out

    slack.revoke(TOKEN)
    assert main(["check", "--config", str(path)]) == 1
    assert main(["once", "--config", str(path)]) == 1
    captured = capsys.readouterr()
    assert "FAIL source acme audit" in captured.out
    assert TOKEN not in captured.out + captured.err


def test_console_script_entry_point(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace('type = "local"', 'type = "nope"'))
    proc = subprocess.run(
        [sys.executable, "-m", "connector.cli.main", "once", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("slack-connector: config error: output.type")


def test_example_alert_destinations_are_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    import re

    from connector.config.load import parse

    monkeypatch.setenv("SLACK_TOKEN_ACME", TOKEN)
    text = (Path(__file__).parents[1] / "config.example.toml").read_text()
    head, alerts = text.split("\n[alerts]\n")
    alerts = re.sub(
        r"(?m)^# (\[\[alerts|type =|url =|routing_key =|severity =|authorization =|topic_arn =)",
        r"\1",
        alerts,
    )
    import tomllib

    settings = parse(tomllib.loads(head + "\n[alerts]\n" + alerts))
    assert [d.type for d in settings.alerts.destinations] == [
        "slack_webhook",
        "pagerduty",
        "webhook",
        "sns",
    ]  # type: ignore[attr-defined]
