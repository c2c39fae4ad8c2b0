"""Property tests: for any interleaving of arrivals, same-second bursts, failed pages,
crashes between upload and commit, and restarts, what lands equals what Slack holds,
each record exactly once.

These drive the real Pipeline, pollers and SQLite store with an in-process Slack stub
(no sockets, so hypothesis can try hundreds of histories); the socket-level paths are
covered by the integration and chaos tests.
"""

from __future__ import annotations

import gzip
import os
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connector.ingest.enrich import Source
from connector.ingest.pipeline import BatchLimits, Pipeline
from connector.logtypes import REGISTRY
from connector.logtypes.base import PollContext
from connector.sinks.base import Sink
from connector.slack.errors import SlackTransientError
from connector.state.sqlite import StateStore
from tests.factories import access, audit, integration

T0 = 1_800_000_000
OVERLAP = 300


class Crash(BaseException):
    """The process dying right after an upload, before the state commit."""


class MemorySink(Sink):
    kind = "memory"

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.crash_after_put = False

    @classmethod
    def from_config(cls, cfg: Any) -> Sink:
        return cls()

    def put(self, key: str, body: bytes, check_lease: Callable[[], None] | None = None) -> None:
        self.objects[key] = body
        if self.crash_after_put:
            self.crash_after_put = False
            raise Crash

    def exists(self, key: str, size: int | None = None) -> bool:
        return key in self.objects

    def get(self, key: str) -> bytes:
        return self.objects[key]

    def rows(self) -> list[dict[str, Any]]:
        return [
            orjson.loads(x) for b in self.objects.values() for x in gzip.decompress(b).splitlines()
        ]


class StubSlack:
    """Slack's paging semantics: newest first, inclusive bounds, position cursors."""

    def __init__(self) -> None:
        self.audit: list[dict[str, Any]] = []
        self.access: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.integration: list[dict[str, Any]] = []
        self.fail_at: int | None = None
        self.calls = 0

    def _tick(self) -> None:
        self.calls += 1
        if self.fail_at is not None and self.calls == self.fail_at:
            raise SlackTransientError("p", "logs", "HTTP 503")

    def audit_logs(self, params: dict[str, Any]) -> dict[str, Any]:
        self._tick()
        rows = sorted(
            (
                e
                for e in self.audit
                if params["oldest"] <= e["date_create"] <= (params["latest"] or 2**62)
            ),
            key=lambda e: (e["date_create"], e["seq"]),
            reverse=True,
        )
        if params.get("cursor"):
            pos = tuple(orjson.loads(params["cursor"]))
            rows = [e for e in rows if (e["date_create"], e["seq"]) < pos]
        page = rows[: params["limit"]]
        more = len(rows) > len(page)
        cursor = orjson.dumps([page[-1]["date_create"], page[-1]["seq"]]).decode() if more else ""
        return {"entries": [dict(e) for e in page], "response_metadata": {"next_cursor": cursor}}

    def web(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        self._tick()
        if method == "team.accessLogs":
            rows = sorted(
                (r for r in self.access.values() if r["date_last"] <= params.get("before", 2**62)),
                key=lambda r: r["date_last"],
                reverse=True,
            )
            key = "logins"
        else:
            rows = sorted(self.integration, key=lambda r: int(r["date"]), reverse=True)
            key = "logs"
        count, page = (
            params.get("count", 100),
            params.get("page", 1),
        )  # `limit` (cursor mode) unknown: classic
        chunk = rows[(page - 1) * count : page * count]
        pages = max(1, -(-len(rows) // count))
        return {"ok": True, key: [dict(r) for r in chunk], "paging": {"pages": pages, "page": page}}


step = st.one_of(
    st.tuples(st.just("add"), st.integers(1, 15), st.booleans(), st.integers(0, 200)),
    st.tuples(st.just("advance"), st.integers(1, 400)),
    st.tuples(st.just("poll"), st.none() | st.integers(1, 4), st.booleans(), st.integers(1, 6)),
)


def run_history(log_type: str, steps: list[tuple[Any, ...]]) -> tuple[Counter[str], set[str]]:
    slack, sink, source = StubSlack(), MemorySink(), Source("p", "p")
    logtype = REGISTRY[log_type]()
    now, n = T0, 0
    with tempfile.TemporaryDirectory() as tmp:
        store = StateStore(Path(tmp) / "state.db")
        pipeline = Pipeline(store, sink, BatchLimits("s", max_events=7))

        def poll(fail_at: int | None, crash: bool, page_size: int) -> None:
            slack.calls, slack.fail_at, sink.crash_after_put = 0, fail_at, crash
            ctx = PollContext("p", slack, None, now, 86400, OVERLAP, page_size=page_size)  # type: ignore[arg-type]
            try:
                pipeline.poll(source, logtype, ctx)
            except (SlackTransientError, Crash):
                pass

        for s in steps:
            if s[0] == "add":
                _, count, burst, late = s
                for _ in range(count):
                    n += 1
                    ts = now - late if burst else now - (late + n) % 200
                    if log_type == "audit":
                        slack.audit.append({**audit(n, ts), "seq": n})
                    elif log_type == "access":
                        user, ip = f"U{n % 5}", f"10.0.0.{n % 3}"
                        row = slack.access.get((user, ip, "UA"))
                        if row:
                            row.update(date_last=now, count=row["count"] + 1)
                        else:
                            slack.access[(user, ip, "UA")] = access(user, ip, "UA", ts, now)
                    else:
                        slack.integration.append(integration(n, ts))
            elif s[0] == "advance":
                now += s[1]
            else:
                poll(*s[1:])
        now += 1
        poll(None, False, 5)
        store.close()
    rows = sink.rows()
    if log_type == "audit":
        return Counter(r["id"] for r in rows), {e["id"] for e in slack.audit}
    if log_type == "access":
        return Counter(f"{r['user_id']}|{r['ip']}" for r in rows), {
            f"{u}|{i}" for u, i, _ in slack.access
        }
    return Counter(f"{r['user_id']}|{r['date']}" for r in rows), {
        f"{r['user_id']}|{r['date']}" for r in slack.integration
    }


@settings(
    max_examples=int(os.environ.get("PROPERTY_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(st.sampled_from(["audit", "access", "integration"]), st.lists(step, max_size=25))
def test_landed_set_equals_source_set(log_type: str, steps: list[tuple[Any, ...]]) -> None:
    landed, expected = run_history(log_type, steps)
    assert set(landed) == expected, (
        f"missing {expected - set(landed)}, extra {set(landed) - expected}"
    )
    assert all(c == 1 for c in landed.values()), (
        f"duplicated {[k for k, c in landed.items() if c > 1]}"
    )
