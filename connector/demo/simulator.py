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

The organisation and its events are `org`; Slack's response shapes and the HTTP handler
are `api`; this module keeps the logs, grows them, and routes requests.
"""

from __future__ import annotations

import bisect
import random
import threading
import time
from collections.abc import Callable
from http.server import ThreadingHTTPServer

from .api import ApiError, Handler, audit_page, classic, int_param
from .org import AGENTS, NETWORKS, Json, Org

DEMO_TOKEN = "xoxp-demo-0000-slack-simulator"  # noqa: S105 - a fixed, public demo credential
DAY = 86_400

__all__ = ["DAY", "DEMO_TOKEN", "SlackSimulator"]


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
        self.org = Org(org)
        homes = self.org.homes
        combos = [(u, a, agent) for u in self.org.users for a in homes[u["id"]] for agent in AGENTS]
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
        made, change = self.org.audit_event, self.org.integration_log
        audit_events = [made(rng, hour * 3600 + rng.randrange(3600)) for _ in range(n)]
        logs = [change(rng, hour * 3600 + rng.randrange(3600))]
        for event in sorted(audit_events, key=lambda e: int(e["date_create"])):
            if start - DAY <= event["date_create"] < start:
                self._insert_audit(event)
        if rng.random() < integ and start - DAY <= int(logs[0]["date"]) < start:
            self._integration.append(logs[0])
            self._integration.sort(key=lambda log: -int(log["date"]))

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> SlackSimulator:
        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
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

    def _generate(self) -> None:
        """A few audit events a second; access rows get touched (`date_last`, `count` grow)
        and now and then a new (user, IP, device) appears; integration changes are rare."""
        tick, rng = 0.5, self._rng
        while not self._stop.wait(tick):
            now = int(self._clock())
            with self._lock:
                mean = self.events_per_second * tick
                for _ in range(int(mean) + (rng.random() < mean % 1)):
                    self._insert_audit(self.org.audit_event(rng, now))
                row = rng.choice(list(self._access.values()))
                row["date_last"], row["count"] = now, row["count"] + rng.randrange(1, 4)
                if rng.random() < 0.05:
                    user = rng.choice(self.org.users)
                    ip, net = self.org.ip(rng, user)
                    self._add_access(user, ip, net, rng.choice(AGENTS), now, now, 1)
                if rng.random() < 0.04:
                    self._integration.insert(0, self.org.integration_log(rng, now))

    # ---------------------------------------------------------------- API
    def handle(self, path: str, params: dict[str, str], auth: str) -> tuple[int, Json]:
        """One request to one endpoint: (HTTP status, JSON body), errors shaped like Slack's."""
        audit = path == "/audit/v1/logs"
        try:
            if not auth.startswith("Bearer ") or not auth[7:]:
                raise ApiError("not_authed", 401 if audit else 200)
            if auth[7:] != self.token:
                raise ApiError("invalid_auth", 401 if audit else 200)
            if audit:
                with self._lock:
                    return 200, audit_page(self._audit, params)
            if path == "/api/team.accessLogs":
                rows = sorted(self._snapshot_access(), key=lambda r: -int(r["date_last"]))
                before = int_param(params, "before", int(self._clock()), 200)
                return 200, classic([r for r in rows if r["date_last"] <= before], params, "logins")
            if path == "/api/team.integrationLogs":
                with self._lock:
                    logs = list(self._integration)
                return 200, classic(logs, params, "logs")
            raise ApiError("unknown_method", 404 if path.startswith("/audit/") else 200)
        except ApiError as exc:
            return exc.status, {"ok": False, "error": exc.code}

    def _snapshot_access(self) -> list[Json]:
        with self._lock:
            return [dict(r) for r in self._access.values()]
