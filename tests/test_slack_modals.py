"""`/seclogs submit` and `/seclogs report` over real sockets: the command opens a modal
at a fake Slack Web API (which checks the token and the trigger_id), the signed
`view_submission` comes back to the interactivity endpoint, the indicators are watched
with their provenance, and the ephemeral confirmation, with past hits compared to the
rows the real pipeline landed, arrives at the command's response_url."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import orjson
import pytest
from slack_sdk.models.views import View

from connector.cli.main import main
from connector.config.load import parse
from connector.service.app import App
from tests.conftest import SECRETS_SEEN, dynamodb_options, once, read_local, read_s3, source
from tests.factories import audit, now
from tests.fakes.slack_server import FakeSlack
from tests.fakes.slack_web_api import FakeSlackWeb
from tests.fakes.webhook_receiver import WebhookReceiver

SECRET = "5e1f0c0ffee0ddba11deadbeef51gn1n"
BOT_TOKEN = "xoxb-modal-test-b0t-t0k3n-1234567890"
TEAM = "T0ALLOWED"
ANALYST = "U0ANALYST1"


@pytest.fixture(autouse=True)
def _secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLASH_SIGNING_SECRET", SECRET)
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    SECRETS_SEEN.update({SECRET, BOT_TOKEN})


class Analyst:
    """Slack's side: signs and sends what Slack would, issues trigger ids."""

    def __init__(self, app: App, web: FakeSlackWeb, receiver: WebhookReceiver) -> None:
        assert app.slash is not None
        self.app, self.web, self.receiver = app, web, receiver
        base = f"http://127.0.0.1:{app.slash.port}"
        self.commands, self.interactions = base + "/slack/commands", base + "/slack/interactivity"
        self.http = httpx.Client(timeout=10)
        self._triggers = 0

    def signed(self, url: str, body: bytes, ts: int | None = None, secret: str = SECRET) -> Any:
        stamp = str(ts if ts is not None else int(time.time()))
        digest = hmac.new(secret.encode(), f"v0:{stamp}:".encode() + body, hashlib.sha256)
        headers = {
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": "v0=" + digest.hexdigest(),
            "Content-Type": "application/x-www-form-urlencoded",
        }
        return self.http.post(url, content=body, headers=headers)

    def command(self, text: str, **fields: str) -> httpx.Response:
        self._triggers += 1
        form = {
            "team_id": TEAM,
            "user_id": ANALYST,
            "channel_id": "C0SECOPS",
            "command": "/seclogs",
            "text": text,
            "response_url": self.receiver.url(f"/commands/{self._triggers}"),
            "trigger_id": self.web.issue(f"{self._triggers}.{time.time_ns()}.abc"),
            **fields,
        }
        return self.signed(self.commands, urlencode(form).encode())

    def open(self, verb: str) -> dict[str, Any]:
        reply = self.command(verb)
        assert reply.status_code == 200 and reply.content == b"", reply.text
        view: dict[str, Any] = self.web.opened()[-1]
        View(**view).validate_json()  # what Slack's own SDK accepts as a modal
        return view

    def payload(self, view: dict[str, Any], answers: dict[str, str], user: str = ANALYST) -> bytes:
        values: dict[str, Any] = {}
        for block, answer in answers.items():
            if block == "watchlist":
                values[block] = {
                    "value": {"type": "static_select", "selected_option": {"value": answer}}
                }
            else:
                values[block] = {"value": {"type": "plain_text_input", "value": answer}}
        payload = {
            "type": "view_submission",
            "team": {"id": TEAM},
            "user": {"id": user, "team_id": TEAM},
            "view": {**view, "state": {"values": values}},
        }
        return urlencode({"payload": orjson.dumps(payload).decode()}).encode()

    def submit(self, view: dict[str, Any], answers: dict[str, str], **kw: Any) -> Any:
        reply = self.signed(self.interactions, self.payload(view, answers, **kw))
        assert reply.status_code == 200, reply.text
        return reply.json()

    def confirmation(self, count: int) -> str:
        text: str = self.receiver.wait_for(count, timeout=20)[-1].body["text"]
        return text


def settings(tmp_path: Path, slack: FakeSlack, web: FakeSlackWeb, **over: Any) -> Any:
    return parse(
        {
            "state": {"path": str(tmp_path / "state.db")},
            "output": {"type": "local", "path": str(tmp_path / "out")},
            "alerts": {"no_events_after_seconds": 0},
            "watchlist": {
                "lists": [
                    {"name": "phishing", "owners": [], "description": "campaigns"},
                    {"name": "insider", "owners": ["U0LEAD"]},
                ]
            },
            "slash_command": {
                "enabled": True,
                "port": 0,
                "signing_secret": {"env": "SLASH_SIGNING_SECRET"},
                "bot_token": {"env": "SLACK_BOT_TOKEN"},
                "web_api_url": web.url,
                "allowed_team_ids": [TEAM],
            },
            "sources": [source(slack, log_types=["audit"])],
            **over,
        }
    )


@pytest.fixture
def analyst_factory(slack: FakeSlack, tmp_path: Path) -> Iterator[Any]:
    t = now()
    slack.add_audit(audit(i, t - 100 + i) for i in range(1, 20))
    slack.add_audit([audit(257, t - 50, action="file_downloaded")])  # 203.0.113.7 again
    apps: list[App] = []
    with FakeSlackWeb(BOT_TOKEN) as web, WebhookReceiver() as receiver:

        def make(**over: Any) -> Analyst:
            cfg = settings(tmp_path, slack, web, **over)
            once(cfg)
            app = App(cfg)
            apps.append(app)
            app.start_slash()
            return Analyst(app, web, receiver)

        yield make
        for app in apps:
            app.close()


def hits_in(text: str, rows: list[dict[str, Any]]) -> None:
    """Every landed row appears in the confirmation's past hits, by its event time."""
    assert rows
    assert f"{len(rows)} event(s) with" in text
    for row in rows:
        assert row["p_event_time"] in text


def test_submit_round_trip_watches_with_provenance_and_shows_past_hits(
    analyst_factory: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    analyst = analyst_factory()
    view = analyst.open("submit")
    call = analyst.web.calls[-1]
    assert call.authorization == f"Bearer {BOT_TOKEN}" and view["callback_id"] == "seclogs_submit"
    assert orjson.loads(view["private_metadata"])["channel"] == "C0SECOPS"

    answer = analyst.submit(
        view,
        {
            "indicators": "203.0.113[.]7\nuser12[@]example(.)com, nonsense\n\n203.0.113.7",
            "watchlist": "phishing",
            "tags": "APT-1, wave2",
            "note": "from the morning call",
        },
    )
    assert answer == {"response_action": "clear"}
    text = analyst.confirmation(1)
    assert "Submitted to watchlist *phishing*, tagged apt-1, wave2." in text
    assert "*Added (2):* `ip:203.0.113.7`, `email:user12@example.com`" in text
    assert "*Not an indicator (1):* `nonsense`" in text
    landed = read_local(tmp_path / "out")
    by_ip = sorted(r["p_event_time"] for r in landed if "203.0.113.7" in r["p_any_ip_addresses"])
    by_email = [r["p_event_time"] for r in landed if "user12@example.com" in r["p_any_emails"]]
    assert len(by_ip) == 2 and len(by_email) == 1
    assert f"• `ip:203.0.113.7`: 2 event(s), {by_ip[0]} to {by_ip[-1]}" in text
    assert f"• `email:user12@example.com`: 1 event(s), {by_email[0]} to {by_email[0]}" in text
    hits_in(
        text,
        [
            r
            for r in landed
            if "203.0.113.7" in r["p_any_ip_addresses"] or "user12@example.com" in r["p_any_emails"]
        ],
    )

    watched = analyst.app.watchlist
    assert watched.listing()["slack"] == ["ip:203.0.113.7", "email:user12@example.com"]
    [entry] = watched.provenance.entries("ip:203.0.113.7")
    assert (entry.list, entry.by, entry.tags, entry.note) == (
        "phishing",
        ANALYST,
        ("apt-1", "wave2"),
        "from the morning call",
    )

    again = analyst.open("submit")
    analyst.submit(again, {"indicators": "203.0.113.7 W000003", "watchlist": "phishing"})
    text = analyst.confirmation(2)
    assert (
        "*Already watched (1):* `ip:203.0.113.7`" in text and "*Added (1):* `user:W000003`" in text
    )

    listing = analyst.command("watch list").json()["text"]
    assert "`ip:203.0.113.7` (slack)" in listing
    assert f"list phishing; by <@{ANALYST}>" in listing and "tags apt-1, wave2" in listing

    config = tmp_path / "c.toml"
    config.write_text(
        f'[state]\npath = "{tmp_path}/state.db"\n[[sources]]\nid = "x"\n'
        'token_env = "NOPE"\n[watchlist]\nlists = [{name = "phishing"}]\n'
    )
    capsys.readouterr()
    assert main(["watchlist", "show", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "ip:203.0.113.7  (slack)" in out and 'note "from the morning call"' in out


def test_report_is_stored_and_its_indicators_watched_with_it_as_context(
    analyst_factory: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    analyst = analyst_factory()
    view = analyst.open("report")
    assert view["callback_id"] == "seclogs_report"
    body = (
        "Phish from user9[@]example[.]com linked hxxps://login-example[.]net/reset?u=9 and "
        "the actor then logged in from 203.0.113.9 (see also <@W000011>)."
    )
    answer = analyst.submit(
        view,
        {
            "title": "Wave 2 credential phish",
            "body": body,
            "watchlist": "phishing",
            "tags": "phish",
        },
    )
    assert answer == {"response_action": "clear"}
    text = analyst.confirmation(1)
    watched = analyst.app.watchlist
    labels = watched.listing()["slack"]
    assert set(labels) == {
        "email:user9@example.com",
        "url:https://login-example.net/reset?u=9",
        "ip:203.0.113.9",
        "user:W000011",
    }
    [entry] = watched.provenance.entries("ip:203.0.113.9")
    report = watched.provenance.report(entry.report)
    assert report is not None and report.body == body and report.by == ANALYST
    assert set(report.indicators) == set(labels) and report.tags == ("phish",)
    assert f'Report "Wave 2 credential phish" ({entry.report})' in text
    landed = read_local(tmp_path / "out")
    hits_in(
        text,
        [
            r
            for r in landed
            if "203.0.113.9" in r["p_any_ip_addresses"]
            or "user9@example.com" in r["p_any_emails"]
            or r["actor"]["user"]["id"] == "W000011"
        ],
    )

    config = tmp_path / "c.toml"
    config.write_text(
        f'[state]\npath = "{tmp_path}/state.db"\n[[sources]]\nid = "x"\n'
        'token_env = "NOPE"\n[watchlist]\nlists = [{name = "phishing"}]\n'
    )
    capsys.readouterr()
    assert main(["watchlist", "show", "--config", str(config), "--format", "json"]) == 0
    rows = [orjson.loads(line) for line in capsys.readouterr().out.splitlines()]
    by_label = {r["indicator"]: r for r in rows}
    [shown] = by_label["ip:203.0.113.9"]["entries"]
    assert shown["report_title"] == "Wave 2 credential phish" and shown["by"] == ANALYST


def test_nothing_usable_is_said_in_the_modal_and_nothing_is_watched(analyst_factory: Any) -> None:
    analyst = analyst_factory()
    view = analyst.open("submit")
    answer = analyst.submit(view, {"indicators": "nothing to see here", "watchlist": "phishing"})
    assert (
        answer["response_action"] == "errors"
        and "No indicator found" in answer["errors"]["indicators"]
    )
    answer = analyst.submit(view, {"indicators": "10.0.0.0/2", "watchlist": "phishing"})
    assert "too broad" in answer["errors"]["indicators"]
    many = " ".join(f"10.9.{i // 200}.{i % 200}" for i in range(101))
    answer = analyst.submit(view, {"indicators": many, "watchlist": "phishing"})
    assert answer["errors"]["indicators"].startswith("101 indicators found; at most 100")
    answer = analyst.submit(view, {"indicators": "10.0.0.1", "watchlist": "insider"})
    assert "Only its owners (<@U0LEAD>)" in answer["errors"]["watchlist"]
    report = analyst.open("report")
    long = "no iocs: " + "é, " * 997
    assert len(analyst.payload(report, {"body": long})) > 8192, "more than a slash command"
    answer = analyst.submit(report, {"title": "t", "body": long, "watchlist": "phishing"})
    assert "No indicator found" in answer["errors"]["body"], "a full-size report is read"
    answer = analyst.submit(
        report, {"title": "t", "body": "all of 0.0.0.0/1", "watchlist": "phishing"}
    )
    assert "too broad" in answer["errors"]["body"]
    assert analyst.app.watchlist.listing()["slack"] == []
    assert analyst.receiver.requests == []


def test_forged_stale_and_replayed_submissions_do_nothing(analyst_factory: Any) -> None:
    analyst = analyst_factory()
    view = analyst.open("submit")
    server = analyst.app.slash
    assert server is not None
    ran = server.executed
    body = analyst.payload(view, {"indicators": "192.0.2.1", "watchlist": "phishing"})
    for reply in (
        analyst.signed(analyst.interactions, body, secret="not-the-secret"),
        analyst.signed(analyst.interactions, body, ts=int(time.time()) - 301),
        analyst.http.post(analyst.interactions, content=body),
    ):
        assert reply.status_code == 401
    stamp = int(time.time())
    assert analyst.signed(analyst.interactions, body, ts=stamp).status_code == 200
    assert analyst.signed(analyst.interactions, body, ts=stamp).status_code == 401, "replay"
    assert server.executed == ran + 1
    assert analyst.app.watchlist.listing()["slack"] == ["ip:192.0.2.1"]


def test_refusals_say_why_and_ssl_check_is_answered(analyst_factory: Any) -> None:
    analyst = analyst_factory(
        slash_command={
            "enabled": True,
            "port": 0,
            "signing_secret": {"env": "SLASH_SIGNING_SECRET"},
            "bot_token": {"env": "SLACK_BOT_TOKEN"},
            "web_api_url": "http://127.0.0.1:9/api/",
            "allowed_team_ids": [TEAM],
            "allowed_channel_ids": ["C0SECOPS"],
        }
    )
    other = analyst.command("watch add 192.0.2.1", channel_id="C0RANDOM").json()
    assert "channel (C0RANDOM)" in other["text"] and "allowed_channel_ids" in other["text"]
    other = analyst.command("help", team_id="T0ELSE").json()
    assert "workspace (T0ELSE)" in other["text"] and "allowed_team_ids" in other["text"]
    failed = analyst.command("submit").json()
    assert failed["response_type"] == "ephemeral"
    assert failed["text"] == "Could not open the dialog: Slack did not answer views.open"
    for ping in (
        analyst.signed(analyst.commands, b"ssl_check=1&token=legacy"),
        analyst.http.post(analyst.commands, content=b"ssl_check=1&token=legacy"),
    ):
        assert ping.status_code == 200 and ping.content == b""
    assert analyst.app.watchlist.listing()["slack"] == []


def test_expired_or_unknown_trigger_and_wrong_token_are_phrased(
    analyst_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    analyst = analyst_factory()
    reply = analyst.signed(
        analyst.commands,
        urlencode(
            {
                "team_id": TEAM,
                "user_id": ANALYST,
                "text": "report",
                "trigger_id": "never.issued",
            }
        ).encode(),
    ).json()
    assert (
        reply["text"] == "Could not open the dialog: Slack refused views.open: invalid_trigger_id"
    )
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-rotated-but-wrong-000000")
    SECRETS_SEEN.add("xoxb-rotated-but-wrong-000000")
    assert "invalid_auth" in analyst.command("submit").json()["text"]
    assert analyst.web.opened() == []


def test_submission_over_moto_s3_and_dynamodb_state(
    slack: FakeSlack, tmp_path: Path, s3_bucket: tuple[Any, str], moto_endpoint: str
) -> None:
    """The other backends: past hits read from S3, provenance and report in DynamoDB."""
    client, bucket = s3_bucket
    t = now()
    slack.add_audit(audit(i, t - 100 + i) for i in range(1, 12))
    state = dynamodb_options(moto_endpoint)
    output = {
        "type": "s3",
        "bucket": bucket,
        "prefix": "logs",
        "region": "us-east-1",
        "endpoint_url": moto_endpoint,
    }
    with FakeSlackWeb(BOT_TOKEN) as web, WebhookReceiver() as receiver:
        cfg = settings(tmp_path, slack, web, state=state.model_dump(), output=output)
        once(cfg)
        app = App(cfg)
        try:
            app.start_slash()
            analyst = Analyst(app, web, receiver)
            view = analyst.open("report")
            answer = analyst.submit(
                view,
                {
                    "title": "s3",
                    "body": "seen: user5[@]example[.]com",
                    "watchlist": "phishing",
                },
            )
            assert answer == {"response_action": "clear"}
            text = analyst.confirmation(1)
        finally:
            app.close()
        landed = [r for body in read_s3(client, bucket, "logs/").values() for r in body]
        hits_in(text, [r for r in landed if "user5@example.com" in r["p_any_emails"]])
        reread = App(cfg)
        try:
            [entry] = reread.watchlist.provenance.entries("email:user5@example.com")
            report = reread.watchlist.provenance.report(entry.report)
            assert report is not None and report.body == "seen: user5[@]example[.]com"
            assert reread.watchlist.listing()["slack"] == ["email:user5@example.com"]
        finally:
            reread.close()


def test_a_reported_indicator_alerts_on_new_events_with_where_it_came_from(
    analyst_factory: Any, slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    with WebhookReceiver() as hooks:
        hook = hooks.url("/hooks/alerts-0123456789abcdef")
        monkeypatch.setenv("ALERT_HOOK_URL", hook)
        SECRETS_SEEN.add(hook)
        analyst = analyst_factory(
            alerts={
                "no_events_after_seconds": 0,
                "delivery_attempts": 1,
                "destinations": [{"type": "webhook", "url": {"env": "ALERT_HOOK_URL"}}],
            }
        )
        view = analyst.open("report")
        analyst.submit(
            view, {"title": "C2 seen", "body": "beacons to 203.0.113[.]50", "watchlist": "phishing"}
        )
        text = analyst.confirmation(1)
        assert "• `ip:203.0.113.50`: none" in text, "nothing in the past 30 days"
        slack.add_audit([audit(300, now() - 5)])  # from 203.0.113.50
        analyst.app.once()
        [alert] = [
            r.body for r in hooks.wait_for(1, timeout=20) if r.body.get("rule") == "watchlist_match"
        ]
    [entry] = analyst.app.watchlist.provenance.entries("ip:203.0.113.50")
    assert alert["context"]["indicator"] == "ip:203.0.113.50"
    assert alert["context"]["watchlists"] == "phishing"
    assert alert["context"]["submitted_by"] == ANALYST
    assert alert["context"]["reports"] == entry.report


def test_a_list_with_owners_takes_watch_add_only_from_them(analyst_factory: Any) -> None:
    analyst = analyst_factory(watchlist={"lists": [{"name": "insider", "owners": ["U0LEAD"]}]})
    refused = analyst.command("watch add 192.0.2.1").json()["text"]
    assert refused == "Only its owners (<@U0LEAD>) add to insider, where `watch add` adds."
    assert analyst.app.watchlist.listing()["slack"] == []
    added = analyst.command("watch add 192.0.2.1", user_id="U0LEAD").json()["text"]
    assert added.startswith("Watching `ip:192.0.2.1`")
    [entry] = analyst.app.watchlist.provenance.entries("ip:192.0.2.1")
    assert (entry.list, entry.by) == ("insider", "U0LEAD")


def test_what_analysts_type_is_escaped_and_pings_or_disguises_nothing(
    analyst_factory: Any,
) -> None:
    """A title `<!here>` would ping the channel in the confirmation; a note or tag with
    `<!channel>` or a disguised link would do so, or mislead, in every `watch list`."""
    analyst = analyst_factory()
    analyst.submit(
        analyst.open("report"),
        {"title": "<!here> wave 3", "body": "from 203.0.113.9", "watchlist": "phishing"},
    )
    text = analyst.confirmation(1)
    assert 'Report "&lt;!here&gt; wave 3"' in text and "<!here>" not in text
    analyst.submit(
        analyst.open("submit"),
        {
            "indicators": "198.51.100.23 <!channel> <https://phish.example/login|the runbook>",
            "watchlist": "phishing",
            "tags": "<!channel>",
            "note": "see <https://phish.example/login|the runbook> <!channel>",
        },
    )
    text = analyst.confirmation(2)
    assert "<!channel>" not in text and "<https://" not in text and "&lt;!channel&gt;" in text
    listing = analyst.command("watch list").json()["text"]
    assert "<!channel>" not in listing and "<https://" not in listing and "<!here>" not in listing
    assert 'note "see &lt;https://phish.example/login|the runbook&gt; &lt;!channel&gt;"' in listing
    assert 'report "&lt;!here&gt; wave 3"' in listing
    assert f"by <@{ANALYST}>" in listing, "the connector's own mentions stay mentions"


def test_a_submission_while_searches_are_queued_is_still_confirmed(analyst_factory: Any) -> None:
    analyst = analyst_factory()
    assert analyst.app.slash is not None
    queue = analyst.app.slash._queued
    taken = 0
    while queue.acquire(blocking=False):  # as if the search queue were full
        taken += 1
    try:
        answer = analyst.submit(
            analyst.open("submit"), {"indicators": "203.0.113.7", "watchlist": "phishing"}
        )
        assert answer == {"response_action": "clear"}
        text = analyst.confirmation(1)
    finally:
        for _ in range(taken):
            queue.release()
    assert taken > 0
    assert "*Added (1):* `ip:203.0.113.7`" in text and "not searched" in text
    assert analyst.app.watchlist.listing()["slack"] == ["ip:203.0.113.7"]
