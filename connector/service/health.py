"""One small HTTP server for probes and scraping: /healthz, /readyz, /metrics.

/healthz answers whether the process is alive and its scheduler running (Kubernetes
restarts it otherwise); /readyz whether it can do its job: config loaded, state store
reachable, sink reachable. Bound to 127.0.0.1 by default: nothing here is for the world.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

log = logging.getLogger(__name__)

Check = Callable[[], tuple[bool, dict[str, Any]]]


class HealthServer:
    def __init__(
        self, address: str, port: int, registry: CollectorRegistry, live: Check, ready: Check
    ) -> None:
        routes: dict[str, Callable[[], tuple[int, str, bytes]]] = {
            "/metrics": lambda: (200, CONTENT_TYPE_LATEST, generate_latest(registry)),
            "/healthz": lambda: _probe(live),
            "/readyz": lambda: _probe(ready),
        }

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return None

            def do_GET(self) -> None:
                route = routes.get(self.path.split("?", 1)[0])
                status, ctype, body = route() if route else (404, "text/plain", b"not found\n")
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server = _Server((address, port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> HealthServer:
        self._thread.start()
        log.info("health and metrics server listening", extra={"port": self.port})
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A probe or scraper that hung up early (BrokenPipeError, ConnectionResetError) is
        routine; the default prints a raw traceback on stderr, which breaks the promise that
        every stderr line is a log line. One quiet log line instead."""
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError | TimeoutError):
            log.debug("probe connection closed early", extra={"error": type(exc).__name__})
            return
        log.warning("probe request failed", extra={"error": type(exc).__name__})


def _probe(check: Check) -> tuple[int, str, bytes]:
    try:
        ok, detail = check()
    except Exception as exc:  # noqa: BLE001 - a probe that throws is a failed probe
        ok, detail = False, {"error": type(exc).__name__}
    body = orjson.dumps({"ok": ok, **detail}) + b"\n"
    return (200 if ok else 503), "application/json", body
