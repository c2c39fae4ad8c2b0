"""The `/seclogs` slash command endpoint: Slack's signed POSTs in, ephemeral replies out.

Order matters. The size is checked from `Content-Length` before the body is read, then
the signature (slack-sdk's `SignatureVerifier`: v0 HMAC-SHA256 over the raw body,
timestamps more than 5 minutes off rejected, constant-time compare) before anything is
parsed; a signature seen before is a replay and is refused the same way. Only then is
the form read, the team and user checked against the allow-lists, and the command run.

The modals' submissions (`interactivity_path`, see `interactions`) pass the same checks
in the same order; their payload is the form's `payload` field. Slack's `ssl_check`
pings carry nothing to run and are answered with an empty 200, signed or not.

Slack waits 3 seconds for an answer. A search gets `answer_within_seconds`; when it takes
longer the reply says so and the result is posted to the request's `response_url` (with
slack-sdk's `WebhookClient`). Searches run on as many threads as `search_processes`
(each waiting on a worker process, `search.worker`), or on one thread over one warm
DuckDB connection when searches run in the daemon (`search_processes = 0`); at most
`MAX_QUEUED_SEARCHES` wait, which bounds the load an analyst can put on the host.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs

import orjson
from slack_sdk.signature import Clock, SignatureVerifier
from slack_sdk.webhook import WebhookClient

from connector import clock
from connector.config.sections import SlashCommandConfig
from connector.httpd import Server
from connector.secrets import SecretError
from connector.slackapp import slash_commands as commands
from connector.slackapp.interactions import Body, FollowUp, Submissions, Submitter, open_modal
from connector.slackapp.slack_web import SlackWeb
from connector.slackapp.slash_commands import Search
from connector.watchlist.watched import watched_in
from connector.watchlist.watchlist import Watchlist

log = logging.getLogger(__name__)

WINDOW_SECONDS = 300
REPLAY_MEMORY = 10_000
SECRET_TTL_SECONDS = 60.0
MAX_QUEUED_SEARCHES = 4
Post = Callable[[str, str], None]


class _UtcClock(Clock):
    def now(self) -> float:
        return clock.now().timestamp()


def post_ephemeral(url: str, text: str) -> None:
    response = WebhookClient(url, timeout=10).send(text=text, response_type="ephemeral")
    if response.status_code >= 300:
        log.error("slash command: response_url answered %d", response.status_code)


class Replays:
    """Signatures accepted in the last 5 minutes; one seen again is a replay."""

    def __init__(self) -> None:
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def first_time(self, signature: str, now: float) -> bool:
        with self._lock:
            while self._seen and (
                next(iter(self._seen.values())) < now or len(self._seen) > REPLAY_MEMORY
            ):
                self._seen.popitem(last=False)
            if signature in self._seen:
                return False
            self._seen[signature] = now + 2 * WINDOW_SECONDS
            return True


class SlashServer:
    def __init__(
        self,
        cfg: SlashCommandConfig,
        watchlist: Watchlist,
        search: Search,
        *,
        post: Post = post_ephemeral,
        web: SlackWeb | None = None,
    ) -> None:
        self.cfg = cfg
        self.watchlist = watchlist
        self._search = search
        self._post = post
        self._web = web or SlackWeb(cfg.web_api_url, cfg.bot_token)
        self._submissions = Submissions(watchlist, self._past_hits, post)
        self._replays = Replays()
        self._verifier: tuple[float, SignatureVerifier] | None = None
        self._worker = ThreadPoolExecutor(
            max_workers=max(1, cfg.search_processes), thread_name_prefix="slash-search"
        )
        self._posts = ThreadPoolExecutor(max_workers=2, thread_name_prefix="slash-post")
        self._queued = threading.BoundedSemaphore(MAX_QUEUED_SEARCHES)
        self.executed = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return None

            def do_GET(self) -> None:
                self._send(405, {"error": "POST only"})

            def do_POST(self) -> None:
                status, body = server.handle(self.path, self.headers, self.rfile)
                self._send(status, body)

            def _send(self, status: int, body: Body) -> None:
                data = b"" if body is None else orjson.dumps(body)
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                if status >= 400:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                self.end_headers()
                self.wfile.write(data)

        self._server = Server((cfg.address, cfg.port), Handler, name="slash-command")
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="slash-command", daemon=True
        )

    @property
    def port(self) -> int:
        return self._server.port

    def start(self) -> SlashServer:
        self._thread.start()
        log.info("slash command endpoint listening", extra={"port": self.port})
        return self

    def stop(self) -> None:
        self._server.close()
        self._worker.shutdown(wait=False, cancel_futures=True)
        self._posts.shutdown(wait=False, cancel_futures=True)

    def verifier(self) -> SignatureVerifier:
        """The signing secret is re-read every minute, so rotating it needs no restart."""
        now = time.monotonic()
        if self._verifier is None or now - self._verifier[0] > SECRET_TTL_SECONDS:
            assert self.cfg.signing_secret is not None
            secret = self.cfg.signing_secret.resolve().get_secret_value()
            self._verifier = (now, SignatureVerifier(secret, clock=_UtcClock()))
        return self._verifier[1]

    def handle(self, path: str, headers: Any, stream: Any) -> tuple[int, Body]:
        route = path.split("?", 1)[0]
        if route not in (self.cfg.path, self.cfg.interactivity_path):
            return 404, {"error": "not found"}
        try:
            length = int(headers.get("Content-Length") or "")
        except ValueError:
            return 411, {"error": "Content-Length required"}
        limit = (
            self.cfg.max_interaction_bytes
            if route == self.cfg.interactivity_path
            else self.cfg.max_body_bytes
        )
        if length > limit or length < 0:
            log.warning("slash command refused: body too large", extra={"bytes": length})
            return 413, {"error": "request body too large"}
        raw = stream.read(length)
        refused = self._authenticate(raw, headers)
        form = {k: v[0] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()}
        if form.get("ssl_check") == "1" and "command" not in form and "payload" not in form:
            return 200, None
        if refused:
            log.warning("slash command refused: %s", refused)
            return 401, {"error": "invalid request signature"}
        if route == self.cfg.interactivity_path:
            return 200, self._interaction(form.get("payload", ""))
        who = Submitter(
            form.get("user_id", ""), form.get("team_id", ""), form.get("channel_id", "")
        )
        refusal = self.refusal(who)
        if refusal:
            log.warning(
                "slash command refused: not allowed", extra={"user": who.user, "team": who.team}
            )
            return 200, _ephemeral(refusal)
        text = form.get("text", "")
        verb = (text.split() or ["help"])[0].lower()[:20]
        log.info("slash command", extra={"user": who.user, "team": who.team, "verb": verb})
        self.executed += 1
        if verb in ("submit", "report"):
            return 200, open_modal(verb, form, self._web, self.watchlist.cfg)
        reply = commands.handle(text, self.watchlist, who.user)
        if not reply.indicators:
            return 200, _ephemeral(reply.text)
        return 200, _ephemeral(self._search_reply(reply, form.get("response_url", "")))

    def _interaction(self, raw: str) -> Body:
        try:
            payload = orjson.loads(raw)
        except orjson.JSONDecodeError:
            payload = None
        if not isinstance(payload, dict):
            log.warning("slack interaction without a JSON payload")
            return None
        self.executed += 1
        body, follow_up = self._submissions.handle(payload, self.refusal)
        self._later(follow_up)
        return body

    def _later(self, follow_up: FollowUp) -> None:
        """Past hits and the confirmation, on the search worker after Slack has its answer.
        With the search queue full the confirmation still goes, at once and without the
        past hits: the submitter always learns what was watched."""
        if follow_up is None:
            return
        searched = self._queued.acquire(blocking=False)
        if not searched:
            log.warning("slack submission: past hits not searched, too many searches queued")

        def work() -> None:
            try:
                follow_up(searched)
            except Exception as exc:  # noqa: BLE001 - a lost reply must not kill the worker
                log.error("slack submission: confirmation failed: %s", type(exc).__name__)
            finally:
                if searched:
                    self._queued.release()

        (self._worker if searched else self._posts).submit(work)

    def _past_hits(self, indicators: Any) -> str:
        return commands.past_hits(
            indicators, self._search, self.cfg.search_limit, watched_in(self.watchlist)
        )

    def _authenticate(self, raw: bytes, headers: Any) -> str:
        """Why the request is refused, or "" when it is Slack's and new."""
        try:
            verifier = self.verifier()
        except SecretError as exc:
            return f"signing secret unavailable ({exc})"
        timestamp = headers.get("X-Slack-Request-Timestamp") or ""
        signature = headers.get("X-Slack-Signature") or ""
        if not timestamp.isdigit() or not signature:
            return "missing or malformed signature headers"
        if abs(clock.now_ts() - int(timestamp)) > WINDOW_SECONDS:
            return "timestamp outside the 5-minute window"
        try:
            valid = verifier.is_valid(raw, timestamp, signature)
        except UnicodeDecodeError:
            valid = False
        if not valid:
            return "signature does not match"
        if not self._replays.first_time(signature, clock.now().timestamp()):
            return "replayed request"
        return ""

    def refusal(self, who: Submitter) -> str:
        """Why this user may not run the command here, or "" when they may."""
        checks = (
            ("workspace", who.team, self.cfg.allowed_team_ids, "allowed_team_ids"),
            ("user", who.user, self.cfg.allowed_user_ids, "allowed_user_ids"),
            ("channel", who.channel, self.cfg.allowed_channel_ids, "allowed_channel_ids"),
        )
        for what, value, allowed, field in checks:
            if allowed and value not in allowed:
                return (
                    f"This {what} ({value or 'unknown'}) is not allowed to use /seclogs: it is "
                    f"not in [slash_command] {field}. Ask the connector's operators to add it."
                )
        return ""

    def _search_reply(self, reply: commands.Reply, response_url: str) -> str:
        if not self._queued.acquire(blocking=False):
            return "Too many searches are running; try again in a minute."
        limit = self.cfg.search_limit

        def work() -> str:
            try:
                return commands.run_search(
                    reply.indicators, self._search, limit, watched_in(self.watchlist)
                )
            finally:
                self._queued.release()

        future: Future[str] = self._worker.submit(work)
        try:
            return future.result(timeout=self.cfg.answer_within_seconds)
        except FutureTimeout:
            pass
        if not response_url:
            return "The search is taking long and the request had no response_url to answer to."
        future.add_done_callback(lambda done: self._deliver(response_url, done))
        return "Searching; the results will follow here shortly."

    def _deliver(self, url: str, done: Future[str]) -> None:
        try:
            self._post(url, done.result())
        except Exception as exc:  # noqa: BLE001 - a lost reply must not kill the worker
            log.error("slash command: posting to response_url failed: %s", type(exc).__name__)


def _ephemeral(text: str) -> dict[str, Any]:
    return {"response_type": "ephemeral", "text": text}
