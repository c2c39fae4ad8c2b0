"""The process-wide memory budget: pages parsed and batches written at once across every
source, and the cap on a response body."""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from connector.budget import MEMORY
from connector.service.app import App
from connector.slack.client import SlackClient
from connector.slack.errors import SlackTransientError
from connector.slack.ratelimit import RateBudgets
from tests import factories
from tests.conftest import local_settings, read_local, source
from tests.fakes.slack_server import FakeSlack

SOURCES = 5
EVENTS = 30


class _Spy:
    """Wraps a semaphore and records how many holders it had at once."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self._lock = threading.Lock()
        self.now = self.most = self.taken = 0

    def acquire(self) -> bool:
        self._inner.acquire()
        with self._lock:
            self.now += 1
            self.taken += 1
            self.most = max(self.most, self.now)
        return True

    def release(self) -> None:
        with self._lock:
            self.now -= 1
        self._inner.release()

    def __enter__(self) -> _Spy:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _fleet(slack: FakeSlack, tmp_path: Path, **limits: Any) -> App:
    now = factories.now()
    slack.add_audit([factories.audit(i, now - 600 + i) for i in range(SOURCES * EVENTS)])
    sources = [source(slack, id=f"s{n}", log_types=["audit"], page_size=5) for n in range(SOURCES)]
    settings = local_settings(tmp_path, *sources, batch_max_events=10)
    settings = settings.model_copy(update={"limits": settings.limits.model_copy(update=limits)})
    return App(settings)


def _poll_all_at_once(app: App) -> list[Any]:
    outcomes: list[Any] = []
    threads = [
        threading.Thread(target=lambda sid=sid: outcomes.append(app.poll(sid, "audit")))
        for sid in app.runners
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return outcomes


@pytest.mark.parametrize(("pages", "writes"), [(1, 1), (2, 1), (SOURCES, SOURCES)])
def test_pages_and_writes_in_memory_are_bounded_across_all_sources(
    slack: FakeSlack, tmp_path: Path, pages: int, writes: int
) -> None:
    slack.on_request = lambda method, params: time.sleep(0.01)
    app = _fleet(slack, tmp_path, pages_in_memory=pages, writes_at_once=writes)
    page_spy, write_spy = _Spy(MEMORY._pages), _Spy(MEMORY._writes)
    MEMORY._pages, MEMORY._writes = page_spy, write_spy  # type: ignore[assignment]
    try:
        outcomes = _poll_all_at_once(app)
    finally:
        app.close()
    assert len(outcomes) == SOURCES and all(o.ok for o in outcomes), outcomes
    for o in outcomes:
        assert o.result.written == SOURCES * EVENTS
    assert page_spy.taken >= SOURCES * (SOURCES * EVENTS // 5)
    assert page_spy.most <= pages and write_spy.most <= writes
    assert page_spy.now == 0 and write_spy.now == 0, "every slot is given back"
    if pages == SOURCES:
        assert page_spy.most > 1, "the spy sees concurrency when the budget allows it"
    assert len(read_local(tmp_path / "out")) == SOURCES * SOURCES * EVENTS


def test_a_failed_request_gives_its_page_slot_back(slack: FakeSlack, tmp_path: Path) -> None:
    """Retry back-off and failed polls hold no slot: with one slot, every source still
    finishes after another one's requests failed."""
    app = _fleet(slack, tmp_path, pages_in_memory=1)
    slack.fail_next("logs", "html500", times=2)
    slack.fail_next("logs", "reset", times=1)
    try:
        outcomes = _poll_all_at_once(app)
    finally:
        app.close()
    assert all(o.ok for o in outcomes), [o.detail for o in outcomes]
    assert MEMORY._pages.acquire(blocking=False)
    MEMORY._pages.release()


def test_a_body_over_the_cap_is_a_transient_error_and_lands_nothing(
    slack: FakeSlack, tmp_path: Path
) -> None:
    app = _fleet(slack, tmp_path, max_response_bytes=2048)
    try:
        outcome = app.poll("s0", "audit")
    finally:
        app.close()
    assert outcome.state == "failing"
    assert "over 2048 bytes" in outcome.detail and "max_response_bytes" in outcome.detail


@pytest.fixture
def gzip_bomb() -> Iterator[str]:
    """A server that answers every request with 64 MB of JSON-ish zeros gzipped to 64 KB:
    what a wrong URL or a hostile proxy could send."""
    body = gzip.compress(b'{"ok": true, "entries": ["' + b"0" * (64 << 20), 9)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_a_gzip_bomb_is_refused_while_it_is_read(gzip_bomb: str) -> None:
    from pydantic import SecretStr

    old = (MEMORY.pages, MEMORY.writes, MEMORY.max_response_bytes)
    MEMORY.configure(old[0], old[1], 1 << 20)
    try:
        with httpx.Client() as http:
            client = SlackClient(
                "s",
                SecretStr("xoxp-bomb-test"),
                audit_api_url=gzip_bomb,
                web_api_url=gzip_bomb,
                http=http,
                budgets=RateBudgets(),
                sleep=lambda _: None,
                audit_per_minute=1e9,
            )
            with pytest.raises(SlackTransientError, match="over 1048576 bytes"):
                client.audit_logs({"limit": 10})
    finally:
        MEMORY.configure(*old)


def test_every_source_shares_one_tls_context(slack: FakeSlack, tmp_path: Path) -> None:
    """httpx loads the CA bundle into a context per client by default: 0.85 MB a source."""
    app = _fleet(slack, tmp_path)
    try:
        contexts = {id(r._http._transport._pool._ssl_context) for r in app.runners.values()}
    finally:
        app.close()
    assert len(app.runners) == SOURCES and len(contexts) == 1


def test_the_daemon_does_not_load_search_libraries_until_asked() -> None:
    """DuckDB is 54 MB resident and slack_sdk 11 MB: only search and /seclogs need them."""
    import subprocess
    import sys

    code = "import sys, connector.cli.main; print(sorted(m for m in ('duckdb', 'slack_sdk') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_no_page_lines_are_kept_for_an_empty_watchlist(slack: FakeSlack, tmp_path: Path) -> None:
    app = _fleet(slack, tmp_path)
    try:
        assert app.watchlist.watch("s0", "audit") is None
        app.watchlist.add("ip:203.0.113.9")
        assert app.watchlist.watch("s0", "audit") == app.watchlist.scan
    finally:
        app.close()


class _Records(list):  # type: ignore[type-arg]
    """A page's record list that can be watched with a weak reference."""


def test_the_audit_stream_holds_one_page_while_the_next_is_read() -> None:
    """A 9,999-entry page is tens of MB parsed: the previous one must be gone by the time
    the next request is sent, or a backfill holds two (171 instead of 140 MB at 1M)."""
    import weakref

    from connector.logtypes.audit import AuditLogs
    from connector.logtypes.base import PollContext

    alive_at_fetch: list[bool] = []
    previous: list[Any] = []

    class Client:
        def audit_logs(self, params: dict[str, Any]) -> dict[str, Any]:
            alive_at_fetch.append(bool(previous) and previous[-1]() is not None)
            n = len(alive_at_fetch)
            entries = _Records(factories.audit(n * 10 + i, 1_700_000_000 - n) for i in range(3))
            previous.append(weakref.ref(entries))
            return {
                "entries": entries,
                "response_metadata": {"next_cursor": f"c{n}" if n < 4 else ""},
            }

    ctx = PollContext(
        source_id="s",
        client=Client(),
        checkpoint=None,
        now=1_700_000_100,  # type: ignore[arg-type]
        first_run_lookback=86_400,
        late_overlap=300,
    )
    for page in AuditLogs().pages(ctx):
        assert len(page.records) == 3
        del page
    assert alive_at_fetch == [False, False, False, False]
