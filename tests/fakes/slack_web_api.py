"""A fake Slack Web API on 127.0.0.1 for the modals: `views.open` only.

It checks what Slack checks: the bot token in the Authorization header, and the
`trigger_id`, which Slack issues with a slash command and honours once within 3 seconds.
Tests issue trigger ids with `issue`; every call is recorded, refused or not.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

TRIGGER_TTL_SECONDS = 3.0


@dataclass(frozen=True)
class Call:
    method: str
    authorization: str
    body: Any
    answer: dict[str, Any]


class FakeSlackWeb:
    def __init__(self, token: str) -> None:
        self.token = token
        self.calls: list[Call] = []
        self._triggers: dict[str, float] = {}
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
                auth = self.headers.get("Authorization") or ""
                answer = fake._answer(self.path.rsplit("/", 1)[-1], auth, body)
                data = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/api/"

    def issue(self, trigger_id: str) -> str:
        with self._lock:
            self._triggers[trigger_id] = time.monotonic() + TRIGGER_TTL_SECONDS
        return trigger_id

    def opened(self) -> list[dict[str, Any]]:
        """The views Slack accepted, in order."""
        return [c.body["view"] for c in self.calls if c.answer.get("ok")]

    def _answer(self, method: str, auth: str, body: Any) -> dict[str, Any]:
        answer = self._check(method, auth, body)
        with self._lock:
            self.calls.append(Call(method, auth, body, answer))
        return answer

    def _check(self, method: str, auth: str, body: Any) -> dict[str, Any]:
        if method != "views.open":
            return {"ok": False, "error": "unknown_method"}
        if not auth.startswith("Bearer "):
            return {"ok": False, "error": "not_authed"}
        if auth != f"Bearer {self.token}":
            return {"ok": False, "error": "invalid_auth"}
        if not isinstance(body, dict) or not isinstance(body.get("view"), dict):
            return {"ok": False, "error": "invalid_arguments"}
        view = body["view"]
        if view.get("type") != "modal" or not view.get("blocks"):
            return {"ok": False, "error": "invalid_arguments"}
        with self._lock:
            expires = self._triggers.pop(str(body.get("trigger_id")), None)
        if expires is None:
            return {"ok": False, "error": "invalid_trigger_id"}
        if time.monotonic() > expires:
            return {"ok": False, "error": "expired_trigger_id"}
        return {"ok": True, "view": {**view, "id": f"V{len(self.calls):08d}"}}

    def __enter__(self) -> FakeSlackWeb:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
