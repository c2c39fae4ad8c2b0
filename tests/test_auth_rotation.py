"""`slack-connector auth` end to end, then polling with a rotating token: refresh before
expiry, refresh when Slack rejects the token, and a restart in between."""

from __future__ import annotations

import socket
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from freezegun import freeze_time

from connector.cli.main import main
from connector.config.load import load
from connector.service.app import App
from tests.conftest import SECRETS_SEEN, read_local
from tests.factories import audit, cli_source, config_file
from tests.fakes.oauth_server import FakeSlackOAuth
from tests.fakes.slack_server import FakeSlack

T = 1_800_000_000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def oauth_slack(monkeypatch: pytest.MonkeyPatch) -> Any:
    with (
        FakeSlackOAuth(user_scopes=("auditlogs:read", "admin")) as fake,
        FakeSlack(tokens=()) as slack,
    ):
        slack.issued_tokens = lambda: list(fake.access_tokens)
        monkeypatch.setenv("SLACK_CLIENT_SECRET", fake.client_secret)
        SECRETS_SEEN.add(fake.client_secret)
        yield fake, slack


def write_config(tmp_path: Path, fake: FakeSlackOAuth, slack: FakeSlack, **fields: Any) -> Path:
    oauth = {
        "client_id": fake.client_id,
        "client_secret": {"env": "SLACK_CLIENT_SECRET"},
        "redirect_uri": f"http://127.0.0.1:{free_port()}/slack/oauth/callback",
        "token_url": fake.token_url,
    }
    source = cli_source(slack, token_env=None, retry_backoff_seconds=0.01, oauth=oauth, **fields)
    return config_file(tmp_path, source, metrics={"enabled": False})


def browser(fake: FakeSlackOAuth, *, tamper: bool = False) -> Any:
    """Stands in for the user clicking Allow: Slack redirects back with a code and the state."""

    def open_url(url: str) -> bool:
        query = parse_qs(urlsplit(url).query)
        state = "forged" if tamper else query["state"][0]
        target = f"{query['redirect_uri'][0]}?code={fake.add_code()}&state={state}"
        threading.Thread(target=lambda: httpx.get(target, timeout=5), daemon=True).start()
        return True

    return open_url


def test_auth_stores_a_token_the_daemon_then_uses(
    oauth_slack: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fake, slack = oauth_slack
    path = write_config(tmp_path, fake, slack)
    monkeypatch.setattr("webbrowser.open", browser(fake))

    assert (
        main(
            ["auth", "--config", str(path), "--source", "acme", "--open-browser", "--timeout", "10"]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "user_scope=auditlogs%3Aread" in out and "rotating" in out
    assert fake.client_secret not in out and fake.latest_access_token not in out
    token_file = tmp_path / "tokens" / "acme.json"
    assert token_file.stat().st_mode & 0o777 == 0o600

    slack.add_audit(audit(i, int(datetime.now(UTC).timestamp()) - 5) for i in range(3))
    assert main(["once", "--config", str(path)]) == 0
    assert len(read_local(tmp_path / "out")) == 3


@pytest.mark.parametrize(
    ("team_ids", "granted", "asked", "code"),
    [
        ("all", ("auditlogs:read", "admin", "admin.teams:read"), True, 0),
        ("all", ("auditlogs:read", "admin"), True, 1),
        (["T0123ABCD"], ("auditlogs:read", "admin"), False, 0),
    ],
)
def test_auth_asks_for_the_workspace_list_scope_when_team_ids_is_all(
    team_ids: Any,
    granted: tuple[str, ...],
    asked: bool,
    code: int,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`team_ids = "all"` lists the workspaces with admin.teams.list, so `auth` asks for
    admin.teams:read and refuses a token without it; a fixed list never lists them."""
    with FakeSlackOAuth(user_scopes=granted) as fake, FakeSlack(tokens=()) as slack:
        monkeypatch.setenv("SLACK_CLIENT_SECRET", fake.client_secret)
        SECRETS_SEEN.add(fake.client_secret)
        path = write_config(
            tmp_path, fake, slack, team_ids=team_ids, log_types=["audit", "access", "integration"]
        )
        monkeypatch.setattr("webbrowser.open", browser(fake))
        argv = ["auth", "--config", str(path), "--source", "acme", "--open-browser"]
        assert main([*argv, "--timeout", "10"]) == code
    out, err = capsys.readouterr()
    (url,) = [w for w in out.split() if w.startswith("http") and "user_scope=" in w]
    scopes = parse_qs(urlsplit(url).query)["user_scope"][0].split(",")
    assert sorted(scopes) == sorted(["auditlogs:read", "admin", *(["admin.teams:read"] * asked)])
    assert "on the organization" in out
    assert (tmp_path / "tokens" / "acme.json").exists() == (code == 0)
    if code:
        assert "admin.teams:read" in err and "the workspace list" in err


def test_auth_rejects_a_forged_state(
    oauth_slack: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fake, slack = oauth_slack
    path = write_config(tmp_path, fake, slack)
    monkeypatch.setattr("webbrowser.open", browser(fake, tamper=True))
    assert (
        main(
            ["auth", "--config", str(path), "--source", "acme", "--open-browser", "--timeout", "10"]
        )
        == 1
    )
    assert "state" in capsys.readouterr().err
    assert not (tmp_path / "tokens" / "acme.json").exists()
    assert fake.calls["authorization_code"] == 0


def test_rotation_before_expiry_on_rejection_and_across_restarts(
    oauth_slack: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake, slack = oauth_slack
    path = write_config(tmp_path, fake, slack)
    monkeypatch.setattr("webbrowser.open", browser(fake))
    with freeze_time(datetime.fromtimestamp(T, UTC)) as frozen:
        assert (
            main(
                [
                    "auth",
                    "--config",
                    str(path),
                    "--source",
                    "acme",
                    "--open-browser",
                    "--timeout",
                    "10",
                ]
            )
            == 0
        )
        slack.add_audit(audit(i, T - 5) for i in range(2))
        settings = load(path)

        app = App(settings)
        assert app.once()[0].ok
        app.close()
        assert fake.calls["refresh_token"] == 0

        frozen.move_to(datetime.fromtimestamp(T + 43_200 - 3600, UTC))
        slack.add_audit([audit(10, T + 43_200 - 3700)])
        app = App(settings)
        assert app.once()[0].ok, "refreshed within refresh_before_seconds of expiry"
        app.close()
        assert fake.calls["refresh_token"] == 1
        first_refreshed = fake.latest_access_token

        slack.revoke(first_refreshed)
        frozen.tick(60)
        slack.add_audit([audit(11, T + 43_200 - 3600)])
        app = App(settings)
        [outcome] = app.once()
        app.close()
        assert outcome.ok, outcome.detail
        assert fake.calls["refresh_token"] == 2, "a rejected token is refreshed and retried once"

    ids = [r["id"] for r in read_local(tmp_path / "out")]
    assert len(ids) == 4 == len(set(ids))
    assert not fake.used_refresh_tokens & fake.refresh_tokens
