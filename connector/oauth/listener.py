"""A one-shot HTTP(S) server on a loopback address that waits for Slack's redirect.

A request with a wrong or missing `state` is answered 400 and the wait goes on: anyone
on the machine (or a stale browser tab) can send one, and it must not end the install.
"""

from __future__ import annotations

import html
import ssl
import threading
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from connector import httpd
from connector.oauth.authorize import CALLBACK_PATH, check_callback, new_state
from connector.oauth.errors import OAuthError
from connector.urls import LOOPBACK_HOSTS

DEFAULT_TIMEOUT = 300.0


_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>{title}</title></head>
<body style="font-family: sans-serif; margin: 3em;"><h1>{title}</h1><p>{body}</p></body></html>
"""


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "slack-connector-oauth"
    sys_version = ""
    timeout = 30  # an idle speculative browser connection must not hold a thread forever

    def do_GET(self) -> None:
        listener = self.server.listener
        split = urlsplit(self.path)
        if split.path != listener.path or listener.done.is_set():
            self._answer(404, "Not found", "Nothing here.")
            return
        params = dict(parse_qsl(split.query, keep_blank_values=True))
        try:
            code = check_callback(params, listener.state)
        except OAuthError as exc:
            if exc.code == "state_mismatch":
                listener.refuse()
                self._answer(400, "Slack install failed", str(exc))
            elif listener.resolve(error=exc):
                self._answer(400, "Slack install failed", str(exc))
            else:
                self._answer(404, "Not found", "Nothing here.")
            return
        if listener.resolve(code=code):
            self._answer(
                200,
                "Slack install received",
                "The connector received the authorization. You can close this tab and "
                "return to the terminal.",
            )
        else:
            self._answer(404, "Not found", "Nothing here.")

    def _answer(self, status: int, title: str, body: str) -> None:
        page = _PAGE.format(title=html.escape(title), body=html.escape(body)).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(page)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(page)

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the request line holds the code and state."""


class _Server(httpd.Server):
    """The daemon's bounded server (long listen queue, capped handlers, read timeout), so a
    burst of speculative or idle browser connections cannot starve the real redirect."""

    listener: RedirectListener

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet: a browser's speculative connection or a bad TLS hello is not our problem."""


class RedirectListener:
    """One-shot HTTP(S) server on a loopback address that waits for Slack's redirect.

    Use as a context manager (binds on enter, so `port` and `redirect_uri` are known):

        with RedirectListener(port=8765) as listener:
            url = authorize_url(client_id, scopes, listener.redirect_uri, listener.state)
            code = listener.wait_for_code(timeout=300)

    The first request on `path` with the right state decides: a code → 200 "you can close
    this tab"; `error=...` or no code → 400 and `wait_for_code` raises OAuthError. A
    request with a wrong or missing state gets 400 and changes nothing: the real redirect
    can still follow (the wait's timeout error counts the refused ones). Other paths
    (favicon, probes) get 404 and are ignored. Pass `ssl_context` (a server-side context
    with a certificate for localhost) to serve https, since Slack may refuse http Redirect
    URLs.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        path: str = CALLBACK_PATH,
        state: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        public_host: str | None = None,
    ) -> None:
        if not path.startswith("/"):
            raise ValueError("path must start with '/'")
        self.host = host
        self.path = path
        self.state = state or new_state()
        self._requested_port = port
        self._ssl = ssl_context
        self._public_host = public_host
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.done = threading.Event()
        self._code: str | None = None
        self._error: OAuthError | None = None
        self.refused = 0

    @classmethod
    def for_redirect_uri(
        cls,
        redirect_uri: str,
        *,
        state: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> RedirectListener:
        """A listener matching a loopback Redirect URL such as
        `https://localhost:8765/slack/oauth/callback` (binds 127.0.0.1 on its port)."""
        split = urlsplit(redirect_uri)
        host = split.hostname or ""
        if split.scheme not in ("http", "https") or host not in LOOPBACK_HOSTS:
            raise OAuthError(
                "redirect_uri must be http(s)://localhost:PORT/... (or 127.0.0.1) for the "
                "local listener; otherwise use paste mode",
                code="bad_redirect_uri",
            )
        if split.scheme == "https" and ssl_context is None:
            raise OAuthError(
                "redirect_uri is https but no TLS certificate was given for the local "
                "listener; give one, or use paste mode",
                code="bad_redirect_uri",
            )
        if split.port is None:
            raise OAuthError("redirect_uri must name a port", code="bad_redirect_uri")
        bind = "::1" if host in ("::1", "[::1]") else "127.0.0.1"
        return cls(
            host=bind,
            port=split.port,
            path=split.path or "/",
            state=state,
            ssl_context=ssl_context,
            public_host=split.hostname if host == "localhost" else None,
        )

    # -- lifecycle

    def start(self) -> RedirectListener:
        if self._server is not None:
            return self
        try:
            server = _Server((self.host, self._requested_port), _Handler, name="oauth-redirect")
        except OSError as exc:
            raise OAuthError(
                f"cannot listen on {self.host}:{self._requested_port} ({exc.strerror})",
                code="listen_failed",
            ) from None
        server.listener = self
        if self._ssl is not None:
            # Handshake lazily in the handler thread, not in accept() on the serving thread.
            server.socket = self._ssl.wrap_socket(
                server.socket, server_side=True, do_handshake_on_connect=False
            )
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="oauth-redirect-listener",
            daemon=True,
        )
        self._thread.start()
        return self

    def close(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> RedirectListener:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- addresses

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("listener not started")
        return int(self._server.server_address[1])

    @property
    def redirect_uri(self) -> str:
        scheme = "https" if self._ssl is not None else "http"
        host = self._public_host or (f"[{self.host}]" if ":" in self.host else self.host)
        return f"{scheme}://{host}:{self.port}{self.path}"

    # -- the wait

    def resolve(self, *, code: str | None = None, error: OAuthError | None = None) -> bool:
        """Record the outcome of the first callback; False when one was already recorded."""
        with self._lock:
            if self.done.is_set():
                return False
            self._code, self._error = code, error
            self.done.set()
            return True

    def refuse(self) -> None:
        """Count a redirect with a wrong or missing state; the wait goes on."""
        with self._lock:
            self.refused += 1

    def wait_for_code(self, timeout: float = DEFAULT_TIMEOUT) -> str:
        """Block until the redirect arrives; return the code or raise OAuthError."""
        if self._server is None:
            self.start()
        if not self.done.wait(timeout):
            refused = (
                f" ({self.refused} request(s) with a wrong or missing state were refused: "
                "a stale browser tab or a forged request)"
                if self.refused
                else ""
            )
            raise OAuthError(
                f"no redirect from Slack within {timeout:g}s{refused}; run the install again "
                "(or use paste mode if the browser cannot reach this machine)",
                code="timeout",
            )
        if self._error is not None:
            raise OAuthError(str(self._error), code=self._error.code)
        assert self._code is not None
        return self._code
