"""A small Slack for the demo: the Audit Logs API, team.accessLogs and team.integrationLogs.

It ships in the package (the test fake does not) so `slack-connector demo` works without a
Slack organisation or network access. It listens on 127.0.0.1 only, accepts one demo token,
and pages the way the connector's pollers expect Slack to: audit entries newest first with
a cursor that holds only a position (filters come from each request, as on real Slack),
classic `count`/`page` for the Web API methods.

Everything is seeded. The organisation (users, their usual IPs and devices, apps) and the
last day of history depend only on `seed` and the wall-clock hour, so a second demo run in
the same directory meets the same past and the connector's checkpoints and dedupe can be
seen working; live events (a few a second) are seeded by the start time as well. Addresses
are RFC 5737 documentation ranges and mail domains are example.com.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import json
import random
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

DEMO_TOKEN = "xoxp-demo-0000-slack-simulator"  # noqa: S105 - a fixed, public demo credential
ENTERPRISE = {"id": "E0DEMOGRID", "name": "Demo Enterprise Grid", "domain": "demo-grid"}
WORKSPACES = [
    {"id": "T0DEMOENG", "name": "Engineering", "domain": "demo-eng"},
    {"id": "T0DEMOSALES", "name": "Sales", "domain": "demo-sales"},
]
PEOPLE = (
    "Ada Lovelace, Grace Hopper, Alan Turing, Katherine Johnson, Linus Pauling, Barbara Liskov, "
    "Dennis Ritchie, Margaret Hamilton, Ken Thompson"
).split(", ")
NETWORKS = [  # (RFC 5737 prefix, isp, country, region)
    ("192.0.2.", "Example Fiber", "US", "CA"),
    ("198.51.100.", "Documentation Telecom", "GB", "ENG"),
    ("203.0.113.", "Test-Net Mobile", "DE", "BE"),
]
AGENTS = [
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Slack/4.41.105 Chrome/128.0.6613.186 Electron/32.2.5 Safari/537.36 Sonic Slack_SSB/4.41.105",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/131.0.0.0 Safari/537.36",
    "com.tinyspeck.chatlyio/24.11.10 (iPhone; iOS 18.1.1; Scale/3.00)",
    "com.Slack/24.11.10.0 (Android 15; Pixel 8)",
]
APPS = [
    ("A0DEMOJIRA", "Jira Cloud", ["chat:write", "links:read"], ["channels:history"]),
    ("A0DEMOPD", "PagerDuty", ["chat:write", "commands"], ["users:read.email"]),
    ("A0DEMODRIVE", "Google Drive", ["files:read", "links:write"], ["files:write"]),
]
SERVICES = [
    (1234567890, "Google Calendar", "incoming-webhook"),
    ("3456789012", "RSS", "bot"),
    (2345678901, "Incoming WebHooks", "incoming-webhook"),
]
CHANNELS = ["general", "incident-response", "deploys", "sales-leads", "security", "random"]
ACTIONS = {
    "user_login": 30,
    "user_logout": 10,
    "file_downloaded": 25,
    "file_shared": 15,
    "channel_created": 6,
    "app_installed": 3,
    "app_scopes_expanded": 2,
    "role_change_to_admin": 1,
    "anomaly": 2,
    "pref.sso_setting_changed": 1,
}
Json = dict[str, Any]
DAY = 86_400


class _ApiError(Exception):
    def __init__(self, code: str, status: int = 200) -> None:
        super().__init__(code)
        self.code, self.status = code, status


class SlackSimulator:
    """Serves realistic, growing Slack security logs until `stop()`; thread-safe."""

    def __init__(
        self,
        *,
        seed: int = 2026,
        events_per_second: float = 3.0,
        history_audit: int = 2000,
        history_access: int = 30,
        history_integration: int = 10,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.token = DEMO_TOKEN
        self.events_per_second = events_per_second
        self._clock = clock
        org = random.Random(seed)
        self.users = [self._user(org, i, name) for i, name in enumerate(PEOPLE)]
        self.homes = {u["id"]: [self._address(org) for _ in range(2)] for u in self.users}
        combos = [
            (u, a, agent) for u in self.users for a in self.homes[u["id"]] for agent in AGENTS
        ]
        start = int(clock())
        self._rng = random.Random(f"{seed}/live/{start}")
        self._lock = threading.Lock()
        self._audit: list[tuple[int, int, Json]] = []  # (date_create, seq), ascending
        self._seq = 0
        self._access: dict[tuple[str, str, str], Json] = {}
        self._integration: list[Json] = []
        with self._lock:
            for hour in range((start - DAY) // 3600, start // 3600 + 1):
                self._history_hour(seed, hour, start, history_audit / 24, history_integration / 24)
            for user, (ip, net), agent in org.sample(combos, min(history_access, len(combos))):
                last = start - self._rng.randrange(DAY)
                first = last - self._rng.randrange(7 * DAY)
                self._add_access(user, ip, net, agent, first, last, self._rng.randrange(1, 400))
        self._stop = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._threads: list[threading.Thread] = []

    def _history_hour(self, seed: int, hour: int, start: int, audit: float, integ: float) -> None:
        """The past is a function of the hour it happened in, not of when the demo started.

        So a second demo run sees the same history (same ids, same times) and the
        connector's checkpoints and dedupe show: only what is new since the last run lands.
        """
        rng = random.Random(f"{seed}/hour/{hour}")
        n = int(audit) + (rng.random() < audit % 1)
        audit_events = [self._audit_event(rng, hour * 3600 + rng.randrange(3600)) for _ in range(n)]
        logs = [self._integration_log(rng, hour * 3600 + rng.randrange(3600))]
        for event in sorted(audit_events, key=lambda e: int(e["date_create"])):
            if start - DAY <= event["date_create"] < start:
                self._insert_audit(event)
        if rng.random() < integ and start - DAY <= int(logs[0]["date"]) < start:
            self._integration.append(logs[0])
            self._integration.sort(key=lambda log: -int(log["date"]))

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> SlackSimulator:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.daemon_threads = True
        server.simulator = self  # type: ignore[attr-defined]
        self._server = server
        self._threads = [
            threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True),
            threading.Thread(target=self._generate, daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        for thread in self._threads:
            thread.join(timeout=5)

    def __enter__(self) -> SlackSimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "call start() first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def audit_api_url(self) -> str:
        return self.base_url + "/audit/v1/"

    @property
    def web_api_url(self) -> str:
        return self.base_url + "/api/"

    def counts(self) -> dict[str, int]:
        with self._lock:
            return {
                "audit": len(self._audit),
                "access": len(self._access),
                "integration": len(self._integration),
            }

    # ---------------------------------------------------------------- data
    @staticmethod
    def _user(rng: random.Random, i: int, name: str) -> Json:
        team = WORKSPACES[i % len(WORKSPACES)]["id"]
        email = name.lower().replace(" ", ".") + "@example.com"
        return {"id": _slack_id(rng, "W"), "name": name, "email": email, "team": team}

    @staticmethod
    def _address(rng: random.Random) -> tuple[str, int]:
        net = rng.randrange(len(NETWORKS))
        return f"{NETWORKS[net][0]}{rng.randrange(1, 255)}", net

    def _ip(self, rng: random.Random, user: Json) -> tuple[str, int]:
        """Mostly one of the user's usual addresses; now and then a trip somewhere new."""
        return self._address(rng) if rng.random() < 0.1 else rng.choice(self.homes[user["id"]])

    def _audit_event(self, rng: random.Random, ts: int) -> Json:
        """One audit entry shaped like Slack's: the entity type follows from the action."""
        action = rng.choices(list(ACTIONS), weights=list(ACTIONS.values()))[0]
        actor = rng.choice(self.users)
        where = rng.choice([ENTERPRISE, *WORKSPACES])
        entity: Json = {"type": "user", "user": actor}
        details: Json | None = None
        ip = self._ip(rng, actor)[0]
        if action in ("file_downloaded", "file_shared"):
            name = rng.choice(["roadmap.pdf", "q3-pipeline.xlsx", "diagram.png", "notes.txt"])
            ftype = {"pdf": "pdf", "xlsx": "xlsx", "png": "png", "txt": "text"}[name.split(".")[1]]
            file = {"id": _slack_id(rng, "F"), "name": name, "filetype": ftype, "title": name}
            entity = {"type": "file", "file": file}
            if action == "file_shared":
                details = {"shared_with": {"channel_id": _slack_id(rng, "C")}}
        elif action == "channel_created":
            private = rng.random() < 0.3
            entity = {
                "type": "channel",
                "channel": {
                    "id": _slack_id(rng, "C"),
                    "name": f"{rng.choice(CHANNELS)}-{ts % 1000}",
                    "privacy": "private" if private else "public",
                    "is_shared": False,
                    "is_org_shared": False,
                },
            }
        elif action in ("app_installed", "app_scopes_expanded"):
            app_id, app_name, scopes, extra = rng.choice(APPS)
            granted = scopes + extra if action == "app_scopes_expanded" else scopes
            entity = {
                "type": "app",
                "app": {
                    "id": app_id,
                    "name": app_name,
                    "scopes": granted,
                    "is_distributed": True,
                    "is_directory_approved": True,
                },
            }
            if action == "app_scopes_expanded":
                details = {"new_scopes": granted, "previous_scopes": scopes}
        elif action == "role_change_to_admin":
            entity = {"type": "user", "user": rng.choice(self.users)}
        elif action == "anomaly":  # a sign-in from an address this user never used
            ip, net = self._address(rng)
            details = {
                "action_timestamp": ts * 1_000_000 + rng.randrange(10**6),
                "location": f"{NETWORKS[net][3]}, {NETWORKS[net][2]}",
                "previous_ip_address": rng.choice(self.homes[actor["id"]])[0],
                "previous_ua": rng.choice(AGENTS),
                "reason": ["asn", "ip_address"],
            }
        elif action == "pref.sso_setting_changed":
            entity = {"type": "workspace", "workspace": rng.choice(WORKSPACES)}
            details = {"previous_value": "required", "new_value": "optional"}
        event: Json = {
            "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "date_create": ts,
            "action": action,
            "actor": {"type": "user", "user": actor},
            "entity": entity,
            "context": {
                "location": {"type": "enterprise" if where is ENTERPRISE else "workspace", **where},
                "ua": rng.choice(AGENTS),
                "ip_address": ip,
                "session_id": rng.randrange(10**12, 10**13),
            },
        }
        if details is not None:
            event["details"] = details
        return event

    def _insert_audit(self, event: Json) -> None:
        """Same-second entries keep arrival order, so newest-first paging is stable."""
        self._seq += 1
        entry = (int(event["date_create"]), self._seq, event)
        bisect.insort(self._audit, entry, key=lambda e: (e[0], e[1]))

    def _add_access(
        self, user: Json, ip: str, net: int, agent: str, first: int, last: int, count: int
    ) -> None:
        """Slack aggregates per (user, IP, device): an existing combination is left alone."""
        self._access.setdefault(
            (user["id"], ip, agent),
            {
                "user_id": user["id"],
                "username": user["email"].split("@")[0],
                "date_first": first,
                "date_last": last,
                "count": count,
                "ip": ip,
                "user_agent": agent,
                "isp": NETWORKS[net][1],
                "country": NETWORKS[net][2],
                "region": NETWORKS[net][3],
            },
        )

    def _integration_log(self, rng: random.Random, ts: int) -> Json:
        """An app (`app_id`) or legacy service (`service_id`, int or str) change; `date` a str."""
        user = rng.choice(self.users)
        change = rng.choice(["added", "removed", "enabled", "disabled"])
        log: Json = {
            "user_id": user["id"],
            "user_name": user["email"].split("@")[0],
            "date": str(ts),
            "change_type": change,
        }
        if rng.random() < 0.6:
            app_id, app_name, scopes, _ = rng.choice(APPS)
            log.update(app_id=app_id, app_type=app_name, scope=",".join(scopes))
        else:
            service_id, service_type, scope = rng.choice(SERVICES)
            log.update(
                service_id=service_id,
                service_type=service_type,
                scope=scope,
                channel=_slack_id(rng, "C"),
            )
        if change == "disabled":
            log["reason"] = rng.choice(["user", "rate_limits", "errors"])
        return log

    def _generate(self) -> None:
        """A few audit events a second; access rows get touched (`date_last`, `count` grow)
        and now and then a new (user, IP, device) appears; integration changes are rare."""
        tick, rng = 0.5, self._rng
        while not self._stop.wait(tick):
            now = int(self._clock())
            with self._lock:
                mean = self.events_per_second * tick
                for _ in range(int(mean) + (rng.random() < mean % 1)):
                    self._insert_audit(self._audit_event(rng, now))
                row = rng.choice(list(self._access.values()))
                row["date_last"], row["count"] = now, row["count"] + rng.randrange(1, 4)
                if rng.random() < 0.05:
                    user = rng.choice(self.users)
                    ip, net = self._ip(rng, user)
                    self._add_access(user, ip, net, rng.choice(AGENTS), now, now, 1)
                if rng.random() < 0.04:
                    self._integration.insert(0, self._integration_log(rng, now))

    # ---------------------------------------------------------------- API
    def handle(self, path: str, params: dict[str, str], auth: str) -> tuple[int, Json]:
        """One request to one endpoint: (HTTP status, JSON body), errors shaped like Slack's."""
        audit = path == "/audit/v1/logs"
        try:
            if not auth.startswith("Bearer ") or not auth[7:]:
                raise _ApiError("not_authed", 401 if audit else 200)
            if auth[7:] != self.token:
                raise _ApiError("invalid_auth", 401 if audit else 200)
            if audit:
                return 200, self._audit_page(params)
            if path == "/api/team.accessLogs":
                rows = sorted(self._snapshot_access(), key=lambda r: -int(r["date_last"]))
                before = _int(params, "before", int(self._clock()), 200)
                return 200, _classic(
                    [r for r in rows if r["date_last"] <= before], params, "logins"
                )
            if path == "/api/team.integrationLogs":
                with self._lock:
                    logs = list(self._integration)
                return 200, _classic(logs, params, "logs")
            raise _ApiError("unknown_method", 404 if path.startswith("/audit/") else 200)
        except _ApiError as exc:
            return exc.status, {"ok": False, "error": exc.code}

    def _snapshot_access(self) -> list[Json]:
        with self._lock:
            return [dict(r) for r in self._access.values()]

    def _audit_page(self, params: dict[str, str]) -> Json:
        """Newest first within `[oldest, latest]`, both inclusive.

        The cursor names the (second, sequence) of the last entry returned, nothing else:
        like Slack's, it forgets the filters, so a client that drops `oldest` on page two
        gets everything older, which is the bug this shape lets the demo catch.
        """
        limit = _int(params, "limit", 100)
        if not 1 <= limit <= 9999:
            raise _ApiError("invalid_limit", 400)
        oldest = _int(params, "oldest", 0)
        latest = _int(params, "latest", sys.maxsize)
        with self._lock:
            keys = [(ts, seq) for ts, seq, _ in self._audit]
            hi = bisect.bisect_right(keys, (latest, sys.maxsize))
            if params.get("cursor"):  # only a position; filters are this request's
                hi = min(hi, bisect.bisect_left(keys, _decode_cursor(params["cursor"])))
            lo = max(bisect.bisect_left(keys, (oldest, -1)), hi - limit)
            entries = [event for _, _, event in reversed(self._audit[lo:hi])]
            more = lo > bisect.bisect_left(keys, (oldest, -1))
        cursor = base64.b64encode(f"{keys[lo][0]}:{keys[lo][1]}".encode()).decode() if more else ""
        return {"entries": entries, "response_metadata": {"next_cursor": cursor}}


def _slack_id(rng: random.Random, prefix: str) -> str:
    return f"{prefix}0{rng.randrange(16**8):08X}"


def _int(params: dict[str, str], name: str, default: int, status: int = 400) -> int:
    try:
        return int(params[name]) if params.get(name) else default
    except ValueError:
        raise _ApiError("invalid_arguments", status) from None


def _decode_cursor(cursor: str) -> tuple[int, int]:
    try:
        ts, seq = base64.b64decode(cursor, validate=True).decode().split(":")
        return int(ts), int(seq)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise _ApiError("invalid_cursor", 400) from None


def _classic(rows: list[Json], params: dict[str, str], key: str) -> Json:
    """Slack's classic paging: at most 1000 a page and 100 pages, `paging.count` as asked."""
    count, page = _int(params, "count", 100, 200), _int(params, "page", 1, 200)
    if not 1 <= count <= 1000 or not 1 <= page <= 100:
        raise _ApiError("over_pagination_limit")
    pages = max(1, -(-len(rows) // count))
    return {
        "ok": True,
        key: rows[(page - 1) * count : page * count],
        "paging": {"count": count, "total": len(rows), "page": page, "pages": pages},
    }


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like Slack's edge; httpx pools connections
    timeout = 10

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the demo prints what landed, not every request."""

    def setup(self) -> None:
        super().setup()
        # Headers and body are separate writes; with Nagle and delayed ACKs every keep-alive
        # response would wait ~40 ms, which a poll of many small pages feels.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        params = {k: v[-1] for k, v in parse_qs(url.query).items()}
        simulator: SlackSimulator = self.server.simulator  # type: ignore[attr-defined]
        status, body = simulator.handle(url.path, params, self.headers.get("Authorization", ""))
        text = json.dumps(body)
        # The Web API escapes "/" as "\/"; the Audit API does not.
        data = (text if url.path.startswith("/audit/") else text.replace("/", "\\/")).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
