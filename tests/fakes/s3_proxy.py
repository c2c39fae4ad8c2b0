"""An HTTP proxy on 127.0.0.1 in front of moto's S3 that injects S3 faults.

Why a proxy: moto answers like S3 when S3 is healthy; outages, throttling (503 SlowDown)
and slow uploads have to be made on the wire so boto3's real retry and timeout code runs.
`hold` keeps one upload on the wire until the test lets it go: an upload still travelling
when its sender is frozen (SIGSTOP, a VM pause) and arriving after others moved on.
"""

from __future__ import annotations

import http.client
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

_SLOWDOWN = (
    b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code>'
    b"<Message>Please reduce your request rate.</Message></Error>"
)


class S3Proxy:
    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self._upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.down = False
        self.delay = 0.0
        self._fail: list[int] = []
        self._lock = threading.Lock()
        self.requests: list[tuple[str, str, int]] = []
        self.held: Hold | None = None
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def hold(self, path_part: str) -> Hold:
        """Hold the next PUT of a data object whose path contains `path_part` (not a
        tombstone: those carry user metadata) until `Hold.release` is set."""
        self.held = Hold(path_part)
        return self.held

    def fail_next(self, times: int, status: int = 503) -> None:
        with self._lock:
            self._fail.extend([status] * times)

    def __enter__(self) -> S3Proxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _next_fault(self) -> int | None:
        with self._lock:
            return self._fail.pop(0) if self._fail else None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return None

            def _relay(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if proxy.down:
                    proxy.requests.append((self.command, self.path, 0))
                    self.close_connection = True
                    self.connection.close()
                    return
                if proxy.delay:
                    time.sleep(proxy.delay)
                hold = proxy.held
                held = hold is not None and hold.takes(self.command, self.path, self.headers)
                if hold is not None and held:
                    hold.release.wait(120)
                status = proxy._next_fault()
                if status is not None:
                    proxy.requests.append((self.command, self.path, status))
                    self.send_response(status)
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(_SLOWDOWN)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(_SLOWDOWN)
                    return
                conn = http.client.HTTPConnection(*proxy._upstream, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
                conn.request(self.command, self.path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                proxy.requests.append((self.command, self.path, resp.status))
                if hold is not None and held:
                    hold.status = resp.status
                self.send_response(resp.status)
                for key, value in resp.getheaders():
                    if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                conn.close()

            do_GET = do_PUT = do_HEAD = do_POST = do_DELETE = _relay

        return Handler


class Hold:
    def __init__(self, path_part: str) -> None:
        self.path_part = path_part
        self.path: str | None = None
        self.status: int | None = None
        self.arrived = threading.Event()
        self.release = threading.Event()
        self._lock = threading.Lock()

    def takes(self, method: str, path: str, headers: Any) -> bool:
        metadata = any(k.lower().startswith("x-amz-meta-") for k in headers)
        with self._lock:
            if self.path is not None or method != "PUT" or metadata:
                return False
            if self.path_part not in path:
                return False
            self.path = path
        self.arrived.set()
        return True
