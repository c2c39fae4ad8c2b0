"""A fake Slack OAuth endpoint (`/api/oauth.v2.access`) on a real 127.0.0.1 socket. Stdlib only.

Follows /work/shared/SLACK_API.md section 5 and Slack's oauth.v2.access:

- Client credentials by HTTP Basic auth (or `client_id`/`client_secret` form fields); a
  wrong id → `invalid_client_id`, a wrong secret → `bad_client_secret`. Always HTTP 200 with
  `ok:false` for refusals, like the real Web API.
- `grant_type=authorization_code` (the default when absent): codes from `add_code()` are
  single-use (`invalid_code` otherwise). Answers with the user token under `authed_user`
  (plus a rotating pair when `rotation` is on), or, with `bot_only`, only a top-level bot
  token. `user_scopes` sets what was granted, so tests can grant fewer scopes than asked.
- `grant_type=refresh_token`: refresh tokens are single-use; a used or unknown one →
  `invalid_refresh_token`. A new pair comes back at the top level with `expires_in`.
- `fail_next(n, status)` answers the next n calls with an HTML error page at that status.

Every call is counted (`calls[grant_type]`) and recorded (`requests`).
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

TOKEN_PATH = "/api/oauth.v2.access"
_HTML_500 = b"<html><body><h1>500 Internal Server Error</h1></body></html>"


@dataclass
class OAuthRequest:
    grant_type: str
    form: dict[str, str]
    basic_auth: bool
    status: int = 0
    error: str = ""


class FakeSlackOAuth:
    def __init__(
        self,
        *,
        client_id: str = "1111.2222",
        client_secret: str = "fake-client-secret-0123456789",
        rotation: bool = True,
        expires_in: int = 43_200,
        user_scopes: Iterable[str] = ("auditlogs:read",),
        bot_only: bool = False,
        with_bot_token: bool = False,
        is_enterprise_install: bool = True,
        team_id: str | None = None,
        enterprise_id: str | None = "E0FAKE",
        redirect_uri: str | None = None,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.rotation = rotation
        self.expires_in = expires_in
        self.user_scopes = list(user_scopes)
        self.bot_only = bot_only
        self.with_bot_token = with_bot_token
        self.is_enterprise_install = is_enterprise_install
        self.team_id = team_id
        self.enterprise_id = enterprise_id
        self.redirect_uri = redirect_uri  # when set, the code exchange must send exactly it

        self.lock = threading.Lock()
        self.codes: set[str] = set()
        self.refresh_tokens: set[str] = set()  # valid, unused
        self.used_refresh_tokens: set[str] = set()
        self.access_tokens: list[str] = []  # every access token issued, oldest first
        self.calls: Counter[str] = Counter()
        self.requests: list[OAuthRequest] = []
        self._failures: list[int] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- knobs

    def add_code(self, code: str | None = None) -> str:
        code = code or f"fake-code-{secrets.token_hex(8)}"
        with self.lock:
            self.codes.add(code)
        return code

    def issue_pair(self) -> tuple[str, str]:
        """A valid (access, refresh) pair as an earlier install would have left it."""
        with self.lock:
            return self._new_pair()

    def fail_next(self, count: int = 1, status: int = 500) -> None:
        with self.lock:
            self._failures.extend([status] * count)

    def revoke_refresh_tokens(self) -> None:
        with self.lock:
            self.used_refresh_tokens |= self.refresh_tokens
            self.refresh_tokens.clear()

    @property
    def latest_access_token(self) -> str:
        return self.access_tokens[-1]

    # -- server

    @property
    def base_url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def token_url(self) -> str:
        return self.base_url + TOKEN_PATH

    def start(self) -> FakeSlackOAuth:
        handler = type("_BoundHandler", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeSlackOAuth:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    # -- behaviour (called with the lock held)

    def _new_pair(self) -> tuple[str, str]:
        access = f"xoxe.xoxp-1-{secrets.token_hex(16)}"
        refresh = f"xoxe-1-{secrets.token_hex(24)}"
        self.access_tokens.append(access)
        self.refresh_tokens.add(refresh)
        return access, refresh

    def _common(self) -> dict[str, Any]:
        return {
            "team": {"id": self.team_id, "name": "Fake"} if self.team_id else None,
            "enterprise": (
                {"id": self.enterprise_id, "name": "Fake Org"} if self.enterprise_id else None
            ),
            "is_enterprise_install": self.is_enterprise_install,
        }

    def handle(self, form: dict[str, str], basic: tuple[str, str] | None) -> dict[str, Any]:
        client_id, client_secret = basic or (
            form.get("client_id", ""),
            form.get("client_secret", ""),
        )
        if client_id != self.client_id:
            return {"ok": False, "error": "invalid_client_id"}
        if client_secret != self.client_secret:
            return {"ok": False, "error": "bad_client_secret"}
        grant = form.get("grant_type") or "authorization_code"
        if grant == "authorization_code":
            return self._authorization_code(form)
        if grant == "refresh_token":
            return self._refresh(form)
        return {"ok": False, "error": "invalid_grant_type"}

    def _authorization_code(self, form: dict[str, str]) -> dict[str, Any]:
        code = form.get("code", "")
        if code not in self.codes:
            return {"ok": False, "error": "invalid_code"}
        if self.redirect_uri is not None and form.get("redirect_uri") != self.redirect_uri:
            return {"ok": False, "error": "bad_redirect_uri"}
        self.codes.discard(code)
        body: dict[str, Any] = {"ok": True, "app_id": "A0FAKE", **self._common()}
        if self.bot_only or self.with_bot_token:
            body.update(
                access_token=f"xoxb-{secrets.token_hex(12)}",
                token_type="bot",
                scope="chat:write",
                bot_user_id="B0FAKE",
            )
        user: dict[str, Any] = {"id": "U0FAKE"}
        if not self.bot_only:
            if self.rotation:
                access, refresh = self._new_pair()
                user.update(refresh_token=refresh, expires_in=self.expires_in)
            else:
                access = f"xoxp-{secrets.token_hex(16)}"
                self.access_tokens.append(access)
            user.update(access_token=access, token_type="user", scope=",".join(self.user_scopes))
        body["authed_user"] = user
        return body

    def _refresh(self, form: dict[str, str]) -> dict[str, Any]:
        token = form.get("refresh_token", "")
        if token not in self.refresh_tokens:
            return {"ok": False, "error": "invalid_refresh_token"}
        self.refresh_tokens.discard(token)
        self.used_refresh_tokens.add(token)
        access, refresh = self._new_pair()
        return {
            "ok": True,
            "app_id": "A0FAKE",
            "access_token": access,
            "refresh_token": refresh,
            "expires_in": self.expires_in,
            "token_type": "user",
            "scope": ",".join(self.user_scopes),
            "user_id": "U0FAKE",
            **self._common(),
        }


class _Handler(BaseHTTPRequestHandler):
    fake: FakeSlackOAuth
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode("utf-8") if length else ""
        path = urlsplit(self.path).path
        form = dict(parse_qsl(raw, keep_blank_values=True))
        basic = _basic(self.headers.get("Authorization", ""))
        fake = self.fake
        with fake.lock:
            grant = form.get("grant_type") or "authorization_code"
            fake.calls[grant] += 1
            request = OAuthRequest(grant, form, basic is not None)
            fake.requests.append(request)
            failure = fake._failures.pop(0) if fake._failures else 0
            if path != TOKEN_PATH:
                request.status = 404
                body: dict[str, Any] | None = {"ok": False, "error": "unknown_method"}
                status = 404
            elif failure:
                body, status = None, failure
            else:
                body, status = fake.handle(form, basic), 200
            request.status = status
            request.error = str(body.get("error", "")) if body else "html"
        if body is None:
            self._send(status, _HTML_500, "text/html")
        else:
            # Slack escapes "/" in JSON; do the same so clients must really parse.
            data = json.dumps(body).replace("/", "\\/").encode()
            self._send(status, data, "application/json; charset=utf-8")

    def _send(self, status: int, data: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _basic(header: str) -> tuple[str, str] | None:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        user, _, password = base64.b64decode(value, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return user, password
