"""`/seclogs` over real sockets: requests signed here as Slack signs them, forged and stale
and replayed ones refused with nothing run, slow searches posted to a response_url."""

from __future__ import annotations

import hashlib
import hmac
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from connector.config.errors import ConfigError
from connector.config.load import parse
from connector.service.app import App
from tests.conftest import SECRETS_SEEN, TOKEN, TOKEN_ENV, once, source
from tests.factories import audit, cli_source, config_file, now
from tests.fakes.slack_server import FakeSlack
from tests.fakes.webhook_receiver import WebhookReceiver
from tests.test_daemon import free_port, wait_for

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TEAM = "T0ALLOWED"


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLASH_SIGNING_SECRET", SECRET)
    SECRETS_SEEN.add(SECRET)


def config(tmp_path: Path, slack: FakeSlack, **slash: Any) -> dict[str, Any]:
    return {
        "state": {"path": str(tmp_path / "state.db")},
        "output": {"type": "local", "path": str(tmp_path / "out")},
        "alerts": {"no_events_after_seconds": 0},
        "slash_command": {
            "enabled": True,
            "port": 0,
            "signing_secret": {"env": "SLASH_SIGNING_SECRET"},
            "allowed_team_ids": [TEAM],
            **slash,
        },
        "sources": [source(slack, log_types=["audit"])],
    }


class Endpoint:
    def __init__(self, app: App) -> None:
        assert app.slash is not None
        self.app = app
        self.server = app.slash
        self.url = f"http://127.0.0.1:{app.slash.port}/slack/commands"
        self.http = httpx.Client(timeout=10)

    def form(self, text: str, **fields: str) -> bytes:
        values = {
            "token": "legacy-verification-token",
            "team_id": TEAM,
            "user_id": "U0ANALYST",
            "command": "/seclogs",
            "text": text,
            "response_url": "",
            "trigger_id": "1.2.3",
            **fields,
        }
        return urlencode(values).encode()

    def post(
        self,
        body: bytes,
        *,
        ts: int | None = None,
        secret: str = SECRET,
        signature: str | None = None,
    ) -> httpx.Response:
        stamp = str(ts if ts is not None else int(time.time()))
        if signature is None:
            digest = hmac.new(secret.encode(), f"v0:{stamp}:".encode() + body, hashlib.sha256)
            signature = "v0=" + digest.hexdigest()
        headers = {
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": signature,
            "Content-Type": "application/x-www-form-urlencoded",
        }
        return self.http.post(self.url, content=body, headers=headers)

    def run(self, text: str, **fields: str) -> httpx.Response:
        return self.post(self.form(text, **fields))


@pytest.fixture
def endpoint_factory(slack: FakeSlack, tmp_path: Path) -> Iterator[Any]:
    t = now()
    slack.add_audit(audit(i, t - 100 + i) for i in range(1, 20))
    apps: list[App] = []

    def make(**slash: Any) -> Endpoint:
        slash.setdefault("search_processes", 0)  # in-process: tests/test_search_worker.py
        settings = parse(config(tmp_path, slack, **slash))
        if not apps:
            once(settings)
        app = App(settings)
        apps.append(app)
        app.start_slash()
        return Endpoint(app)

    yield make
    for app in apps:
        app.close()


def test_round_trip_search_and_watch(endpoint_factory: Any) -> None:
    ep = endpoint_factory()
    reply = ep.run("help")
    assert reply.status_code == 200 and reply.json()["response_type"] == "ephemeral"
    assert "/seclogs search" in reply.json()["text"]
    assert "<indicator>" not in reply.json()["text"], "Slack would read it as a link"
    assert "`/seclogs search &lt;indicator&gt; [...]`" in reply.json()["text"]
    pinged = ep.run("watch add <!channel>").json()["text"]
    assert "<!channel>" not in pinged and "&lt;!channel&gt;" in pinged
    assert "Stopped watching" in ep.run("watch remove <!channel>").json()["text"]

    found = ep.run("search 203.0.113.7").json()
    assert found["response_type"] == "ephemeral"
    assert "1 event(s) with `ip:203.0.113.7`" in found["text"]
    # Slack reads <...> as a link or mention: values are escaped as its docs require
    assert (
        "user7 &lt;user7@example.com&gt;: user_login user user7 from 203.0.113.7" in found["text"]
    )
    assert "`ip:203.0.113.7`: 1 event(s), first seen " in found["text"]
    assert "by log type: `Slack.AuditLogs` 1" in found["text"] and "watched: no" in found["text"]
    assert "Watching" in ep.run("watch add 203.0.113.7").json()["text"]
    assert "\n  watched: in `" in ep.run("search ip:203.0.113.7").json()["text"]  # not a replay
    assert "Stopped watching" in ep.run("watch remove 203.0.113.7").json()["text"]
    assert "No events" in ep.run("search 198.51.100.99").json()["text"]
    assert "not an IP address" in ep.run("search ip:999.0.0.1").json()["text"]

    assert "Watching `ip:198.51.100.0/24`" in ep.run("watch add 198.51.100.0/24").json()["text"]
    assert "`ip:198.51.100.0/24` (slack)" in ep.run("watch list").json()["text"]
    assert ep.app.watchlist.listing()["slack"] == ["ip:198.51.100.0/24"]
    assert "Stopped watching" in ep.run("watch remove 198.51.100.0/24").json()["text"]
    assert ep.app.watchlist.listing()["slack"] == []
    assert "Unknown command" in ep.run("frobnicate").json()["text"]
    assert "at least 4 characters" in ep.run("watch add ab").json()["text"]
    assert "too broad" in ep.run("watch add 0.0.0.0/1").json()["text"]
    assert ep.app.watchlist.listing()["slack"] == []


def test_slow_search_is_posted_to_response_url(endpoint_factory: Any) -> None:
    ep = endpoint_factory(answer_within_seconds=0.001)
    with WebhookReceiver() as receiver:
        started = time.monotonic()
        reply = ep.run(
            "search user12@example.com", response_url=receiver.url("/commands/T/123/abc")
        )
        assert time.monotonic() - started < 3.0, "Slack waits 3 seconds"
        assert reply.status_code == 200 and "Searching" in reply.json()["text"]
        [posted] = receiver.wait_for(1, timeout=20)
    assert posted.path == "/commands/T/123/abc"
    assert posted.body["response_type"] == "ephemeral"
    assert "1 event(s) with `email:user12@example.com`" in posted.body["text"]
    assert "user12 &lt;user12@example.com&gt;" in posted.body["text"]


def refused(ep: Endpoint, response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    assert ep.server.executed == 0
    assert ep.app.watchlist.listing()["slack"] == []


def test_forged_stale_replayed_and_unsigned_requests_run_nothing(endpoint_factory: Any) -> None:
    ep = endpoint_factory()
    body = ep.form("watch add 192.0.2.1")
    refused(ep, ep.post(body, secret="not-the-secret"), 401)
    refused(ep, ep.post(body, signature="v0=" + "0" * 64), 401)
    refused(ep, ep.post(body, ts=int(time.time()) - 330), 401)
    refused(ep, ep.post(body, ts=int(time.time()) + 330), 401)
    refused(ep, ep.post(body, signature=""), 401)
    refused(ep, ep.http.post(ep.url, content=body), 401)
    tampered = ep.form("watch add 192.0.2.1")
    stamp = int(time.time())
    good = (
        "v0="
        + hmac.new(SECRET.encode(), f"v0:{stamp}:".encode() + tampered, hashlib.sha256).hexdigest()
    )
    refused(ep, ep.post(tampered + b"&x=1", ts=stamp, signature=good), 401)

    refused(ep, ep.post(b"text=\xff\xfe&team_id=" + TEAM.encode()), 401)

    stamp = int(time.time())
    first = ep.post(body, ts=stamp)
    assert first.status_code == 200 and ep.server.executed == 1
    again = ep.post(body, ts=stamp)
    assert again.status_code == 401 and ep.server.executed == 1, "a replay is refused"


def test_wrong_team_or_user_is_told_and_nothing_runs(endpoint_factory: Any) -> None:
    ep = endpoint_factory(allowed_user_ids=["U0ANALYST"])
    reply = ep.run("watch add 192.0.2.1", team_id="T0OTHER")
    refused(ep, reply, 200)
    assert "not allowed" in reply.json()["text"] and reply.json()["response_type"] == "ephemeral"
    refused(ep, ep.run("watch add 192.0.2.1", user_id="U0INTRUDER"), 200)


def test_oversized_bodies_and_other_paths_are_refused(endpoint_factory: Any) -> None:
    ep = endpoint_factory(max_body_bytes=1024)
    big = ep.form("watch add 192.0.2.1", padding="x" * 2000)
    refused(ep, ep.post(big), 413)
    other = ep.http.post(ep.url.replace("/slack/commands", "/other"), content=ep.form("help"))
    assert other.status_code == 404
    assert ep.http.get(ep.url).status_code == 405
    assert ep.server.executed == 0


def test_enabled_without_secret_or_allow_list_is_a_config_error(
    slack: FakeSlack, tmp_path: Path
) -> None:
    cfg = config(tmp_path, slack)
    del cfg["slash_command"]["signing_secret"]
    with pytest.raises(ConfigError, match=r"slash_command\.signing_secret"):
        parse(cfg)
    cfg = config(tmp_path, slack, allowed_team_ids=[])
    with pytest.raises(ConfigError, match=r"slash_command\.allowed_team_ids"):
        parse(cfg)


def test_run_serves_the_endpoint(slack: FakeSlack, tmp_path: Path) -> None:
    """`slack-connector run` as operators start it: polls, and answers /seclogs."""
    port = free_port()
    slash = {
        "enabled": True,
        "port": port,
        "signing_secret": {"env": "SLASH_SIGNING_SECRET"},
        "allowed_team_ids": [TEAM],
    }
    config_path = config_file(
        tmp_path,
        cli_source(slack, poll_interval_seconds=1),
        metrics={"enabled": False},
        slash_command=slash,
    )
    slack.add_audit([audit(3, now() - 20)])
    env = {**os.environ, TOKEN_ENV: TOKEN, "SLASH_SIGNING_SECRET": SECRET}
    proc = subprocess.Popen(
        [sys.executable, "-m", "connector.cli.main", "run", "--config", str(config_path)],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )

    class Running(Endpoint):
        def __init__(self) -> None:
            self.url = f"http://127.0.0.1:{port}/slack/commands"
            self.http = httpx.Client(timeout=10)

    ep = Running()
    try:

        def answers() -> bool:
            try:
                # a fresh trigger_id, as Slack sends: the same body twice in one second
                # is a replay, refused
                reply = ep.run("search user3@example.com", trigger_id=str(time.time_ns()))
                return "1 event(s)" in reply.json()["text"]
            except httpx.HTTPError:
                return False

        assert wait_for(answers, timeout=30)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, err[-2000:]
    assert SECRET not in err


def test_watch_list_shows_provenance_for_the_first_ones_and_counts_the_rest(
    endpoint_factory: Any,
) -> None:
    from connector.slackapp.slash_commands import LIST_LIMIT

    ep = endpoint_factory()
    assert "Watching `ip:192.0.2.77`" in ep.run("watch add 192.0.2.77").json()["text"]
    for i in range(LIST_LIMIT):
        ep.app.watchlist.add(f"198.51.100.{i}")
    text = ep.run("watch list").json()["text"]
    assert "• `ip:192.0.2.77` (slack)\n    list default; by <@U0ANALYST>;" in text
    assert "…and 1 more: `slack-connector watchlist show` lists all." in text
    assert "198.51.100.29" not in text and "198.51.100.28" in text
