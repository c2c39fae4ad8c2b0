"""An HTTP receiver on 127.0.0.1 that records every POST, for alert destination tests.

Stdlib only. It can be told to fail the next N requests with a status (and body), to
answer with a given success status (PagerDuty answers 202), or to delay every answer.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]  # names lowercased
    body: Any  # parsed JSON, or the raw text when it is not JSON
    raw: bytes


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # a delayed handler must not hold up stop()
    receiver: WebhookReceiver


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = raw.decode("utf-8", "replace")
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, reply = self.server.receiver._record(Received(self.path, headers, body, raw))
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, format: str, *args: Any) -> None:
        return None


class WebhookReceiver:
    def __init__(self, status: int = 200, body: bytes = b"ok") -> None:
        self.status = status
        self.body = body
        self.delay = 0.0
        self.requests: list[Received] = []
        self._fail_left = 0
        self._fail_status = 500
        self._fail_body = b"internal error"
        self._cond = threading.Condition()
        self._releases = 0
        self._stopped = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> WebhookReceiver:
        server = _Server(("127.0.0.1", 0), _Handler)
        server.receiver = self
        self._server = server
        self._stopped.clear()
        self._thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()  # releases handlers sleeping in a delay
        with self._cond:
            self._cond.notify_all()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- knobs -----------------------------------------------------------------------------

    def release(self) -> None:
        """Answer every request held in a delay now, and delay no more: a test holds a
        destination for as long as its claim needs, not for a guessed number of seconds."""
        with self._cond:
            self.delay = 0.0
            self._releases += 1
            self._cond.notify_all()

    def url(self, path: str = "/") -> str:
        assert self._server is not None, "receiver not started"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/{path.lstrip('/')}"

    def fail_next(self, count: int, status: int = 500, body: bytes = b"internal error") -> None:
        """Answer the next `count` requests with `status` (they are still recorded)."""
        with self._cond:
            self._fail_left = count
            self._fail_status = status
            self._fail_body = body

    # -- inspection ------------------------------------------------------------------------

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Received]:
        """Block until at least `count` requests arrived; returns them all."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self.requests) >= count, timeout):
                raise AssertionError(f"expected {count} requests, got {len(self.requests)}")
            return list(self.requests)

    @property
    def bodies(self) -> list[Any]:
        with self._cond:
            return [r.body for r in self.requests]

    def _record(self, request: Received) -> tuple[int, bytes]:
        with self._cond:
            self.requests.append(request)
            self._cond.notify_all()
            delay, releases = self.delay, self._releases
            if self._fail_left > 0:
                self._fail_left -= 1
                answer = (self._fail_status, self._fail_body)
            else:
                answer = (self.status, self.body)
            if delay:
                self._cond.wait_for(
                    lambda: self._releases != releases or self._stopped.is_set(), delay
                )
        return answer
