"""One small HTTP server for probes and scraping: /healthz, /readyz, /metrics.

/healthz answers whether the process is alive and its scheduler running (Kubernetes
restarts it otherwise); /readyz whether it can do its job: config loaded, state store
reachable, sink reachable. Bound to 127.0.0.1 by default: nothing here is for the world.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from connector.httpd import Server

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

        self._server = Server((address, port), Handler, name="health")
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return self._server.port

    def start(self) -> HealthServer:
        self._thread.start()
        log.info("health and metrics server listening", extra={"port": self.port})
        return self

    def stop(self) -> None:
        self._server.close()


def _probe(check: Check) -> tuple[int, str, bytes]:
    try:
        ok, detail = check()
    except Exception as exc:  # noqa: BLE001 - a probe that throws is a failed probe
        ok, detail = False, {"error": type(exc).__name__}
    body = orjson.dumps({"ok": ok, **detail}) + b"\n"
    return (200 if ok else 503), "application/json", body
