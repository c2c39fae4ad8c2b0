"""Slack OAuth v2 install flow for the CLI: get a *user* token with the scopes the log types need.

The flow, as `run_install` runs it:

1. Build the authorize URL (`user_scope=`: the Audit Logs API and team.* logs need user
   tokens) with a random `state`, print it, optionally open a browser.
2. Get the redirect back: either a one-shot `RedirectListener` on 127.0.0.1 receives it, or
   (for a headless host, or when Slack refuses the loopback URL) the operator pastes the
   URL the browser landed on and `code_from_redirect` reads it. Either way `state` is
   compared in constant time and a mismatch ends the install.
3. `exchange_code` swaps the code for a `TokenSet` at oauth.v2.access (client credentials as
   HTTP Basic auth), and `check_token` refuses bot tokens and missing scopes, saying what to
   do about it.

Nothing here logs or raises with a token, a code, a state or the client secret in it; every
token is registered with the log redactor the moment a `TokenSet` holds it.
"""

from __future__ import annotations

import html
import re
import secrets
import ssl
import sys
import threading
import webbrowser
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import IO, Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
from pydantic import SecretStr

from connector import clock
from connector.logs import REDACTOR

AUTHORIZE_URL = "https://slack.com/oauth/v2/authorize"
TOKEN_URL = "https://slack.com/api/oauth.v2.access"  # noqa: S105 - a URL
CALLBACK_PATH = "/slack/oauth/callback"
DEFAULT_TIMEOUT = 300.0

SCOPES: dict[str, list[str]] = {
    "audit": ["auditlogs:read"],
    "access": ["admin"],
    "integration": ["admin"],
}

_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})

# What the operator must do when a scope is missing, by scope.
_SCOPE_HELP = {
    "auditlogs:read": (
        "add auditlogs:read under OAuth & Permissions > User Token Scopes, activate public "
        "distribution, then install the app on the organization (Enterprise Grid) as the "
        "org owner, not on a single workspace"
    ),
    "admin": (
        "add admin under OAuth & Permissions > User Token Scopes, then reinstall the app "
        "on the workspace as an owner (team.accessLogs and team.integrationLogs need a "
        "paid plan)"
    ),
}

# Hints for oauth.v2.access error codes an operator can act on.
_EXCHANGE_HINTS = {
    "invalid_code": "the code expired or was already used; run the install again",
    "code_already_used": "the code was already used; run the install again",
    "bad_redirect_uri": (
        "redirect_uri must match a Redirect URL in the app's OAuth & Permissions settings exactly"
    ),
    "invalid_client_id": "check the Client ID (Settings > Basic Information)",
    "bad_client_secret": "check the Client Secret (Settings > Basic Information)",
    "oauth_authorization_url_mismatch": "the authorize URL and oauth.v2.access disagree",
}


class OAuthError(Exception):
    """The install cannot finish. The message says why and what to do; never a secret.

    `code` is Slack's error code (or "state_mismatch", "access_denied", "timeout", ...).
    """

    def __init__(self, message: str, *, code: str = "") -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, repr=False)
class TokenSet:
    """One Slack token as oauth.v2.access returned it. `expires_at` is unix seconds, or None
    when token rotation is off (the token lives until revoked)."""

    access_token: SecretStr
    refresh_token: SecretStr | None = None
    expires_at: int | None = None
    scopes: list[str] = field(default_factory=list)
    token_type: str = "user"  # noqa: S105 - a kind, not a secret
    team_id: str | None = None
    enterprise_id: str | None = None
    is_enterprise_install: bool = False
    user_id: str | None = None

    def __post_init__(self) -> None:
        refresh = [self.refresh_token.get_secret_value()] if self.refresh_token else []
        REDACTOR.hold(self, self.access_token.get_secret_value(), *refresh)

    def __repr__(self) -> str:
        return (
            f"TokenSet(token_type={self.token_type!r}, scopes={self.scopes!r}, "
            f"expires_at={self.expires_at!r}, rotating={self.refresh_token is not None}, "
            f"team_id={self.team_id!r}, enterprise_id={self.enterprise_id!r}, "
            f"is_enterprise_install={self.is_enterprise_install!r})"
        )

    __str__ = __repr__

    @property
    def is_bot(self) -> bool:
        token = self.access_token.get_secret_value()
        bot_type = self.token_type == "bot"  # noqa: S105 - a kind, not a secret
        return bot_type or token.startswith(("xoxb-", "xoxe.xoxb-"))

    def seconds_left(self) -> int | None:
        """Seconds until expiry (negative once expired), None for a non-expiring token."""
        return None if self.expires_at is None else self.expires_at - clock.now_ts()

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict WITH the secrets in it: only for the token file."""
        return {
            "access_token": self.access_token.get_secret_value(),
            "refresh_token": (
                self.refresh_token.get_secret_value() if self.refresh_token is not None else None
            ),
            "expires_at": self.expires_at,
            "scopes": list(self.scopes),
            "token_type": self.token_type,
            "team_id": self.team_id,
            "enterprise_id": self.enterprise_id,
            "is_enterprise_install": self.is_enterprise_install,
            "user_id": self.user_id,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TokenSet:
        """Inverse of `to_dict`. Raises ValueError (without values) on a malformed dict."""
        access = data.get("access_token")
        if not isinstance(access, str) or not access:
            raise ValueError("access_token missing or not a string")
        refresh = data.get("refresh_token")
        if refresh is not None and (not isinstance(refresh, str) or not refresh):
            raise ValueError("refresh_token is not a string")
        expires_at = data.get("expires_at")
        if expires_at is not None and (
            isinstance(expires_at, bool) or not isinstance(expires_at, int)
        ):
            raise ValueError("expires_at is not an integer")
        scopes = data.get("scopes", [])
        if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
            raise ValueError("scopes is not a list of strings")
        return cls(
            access_token=SecretStr(access),
            refresh_token=SecretStr(refresh) if refresh else None,
            expires_at=expires_at,
            scopes=list(scopes),
            token_type=str(data.get("token_type") or "user"),
            team_id=_opt_str(data.get("team_id")),
            enterprise_id=_opt_str(data.get("enterprise_id")),
            is_enterprise_install=bool(data.get("is_enterprise_install", False)),
            user_id=_opt_str(data.get("user_id")),
        )


# --------------------------------------------------------------------------- authorize URL


def user_scopes(log_types: Iterable[str]) -> list[str]:
    """The user token scopes the given log types need, sorted and unique."""
    needed: set[str] = set()
    for log_type in log_types:
        if log_type not in SCOPES:
            raise OAuthError(f"unknown log type {log_type!r}; choose from {sorted(SCOPES)}")
        needed.update(SCOPES[log_type])
    return sorted(needed)


def new_state() -> str:
    """An unguessable `state` value for one install."""
    return secrets.token_urlsafe(32)


def authorize_url(
    client_id: str,
    scopes: Iterable[str],
    redirect_uri: str,
    state: str,
    authorize_base: str = AUTHORIZE_URL,
    *,
    team: str | None = None,
) -> str:
    """Slack's v2 authorize URL asking for *user* scopes (`user_scope=`, comma-separated).

    `team` optionally preselects a workspace or org id on Slack's consent page.
    """
    params: dict[str, str] = {
        "client_id": client_id,
        "user_scope": ",".join(scopes),
        "redirect_uri": redirect_uri,
        "state": state,
    }
    if team:
        params["team"] = team
    sep = "&" if "?" in authorize_base else "?"
    return authorize_base + sep + urlencode(params)


# --------------------------------------------------------------------------- the redirect


def _check_callback(params: Mapping[str, str], expected_state: str) -> str:
    """Validate the redirect's query parameters; return the code or raise OAuthError.

    State is checked first, so a forged redirect cannot even tell us it was denied.
    """
    got_state = params.get("state", "")
    if not got_state or not secrets.compare_digest(
        got_state.encode("utf-8"), expected_state.encode("utf-8")
    ):
        detail = "it had no state" if not got_state else "it carried a different state"
        raise OAuthError(
            f"state mismatch: the redirect did not come from this install ({detail}); "
            "a stale browser tab or a forged request. Run the install again.",
            code="state_mismatch",
        )
    error = params.get("error", "")
    if error:
        if error == "access_denied":
            raise OAuthError(
                "access_denied: the install was cancelled on Slack's consent page (Cancel "
                "was clicked, or the user may not install apps). Run the install again and "
                "click Allow, signed in as an owner.",
                code="access_denied",
            )
        safe = re.sub(r"[^A-Za-z0-9_.-]", "?", error)[:64]
        raise OAuthError(f"Slack returned error {safe!r} instead of a code", code=safe)
    code = params.get("code", "")
    if not code:
        raise OAuthError("the redirect carried no code", code="no_code")
    return code


def code_from_redirect(url: str, expected_state: str) -> str:
    """The code from a redirect URL pasted by the operator (or its query string alone).

    Raises OAuthError like the listener does: state mismatch, access_denied, no code.
    """
    url = url.strip()
    query = urlsplit(url).query if ("://" in url or url.startswith("/")) else url.lstrip("?")
    return _check_callback(dict(parse_qsl(query, keep_blank_values=True)), expected_state)


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
            code = _check_callback(params, listener.state)
        except OAuthError as exc:
            if listener.resolve(error=exc):
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


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    listener: RedirectListener

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet: a browser's speculative connection or a bad TLS hello is not our problem."""


class RedirectListener:
    """One-shot HTTP(S) server on a loopback address that waits for Slack's redirect.

    Use as a context manager (binds on enter, so `port` and `redirect_uri` are known):

        with RedirectListener(port=8765) as listener:
            url = authorize_url(client_id, scopes, listener.redirect_uri, listener.state)
            code = listener.wait_for_code(timeout=300)

    The first request on `path` decides: a good state and a code → 200 "you can close this
    tab"; a bad or missing state, `error=...` or no code → 400 and `wait_for_code` raises
    OAuthError. Other paths (favicon, probes) get 404 and are ignored. Pass `ssl_context`
    (a server-side context with a certificate for localhost) to serve https, since Slack
    may refuse http Redirect URLs.
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
        if split.scheme not in ("http", "https") or host not in _LOOPBACK_HOSTS:
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
            server = _Server((self.host, self._requested_port), _Handler, bind_and_activate=True)
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
            server.shutdown()
            server.server_close()
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

    def wait_for_code(self, timeout: float = DEFAULT_TIMEOUT) -> str:
        """Block until the redirect arrives; return the code or raise OAuthError."""
        if self._server is None:
            self.start()
        if not self.done.wait(timeout):
            raise OAuthError(
                f"no redirect from Slack within {timeout:g}s; run the install again (or use "
                "paste mode if the browser cannot reach this machine)",
                code="timeout",
            )
        if self._error is not None:
            raise OAuthError(str(self._error), code=self._error.code)
        assert self._code is not None
        return self._code


# --------------------------------------------------------------------------- token exchange


def _opt_str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _scopes(value: object) -> list[str]:
    if isinstance(value, list):
        return sorted({str(v) for v in value if v})
    if isinstance(value, str):
        return sorted({s for s in re.split(r"[,\s]+", value) if s})
    return []


def _id_of(value: object) -> str | None:
    if isinstance(value, Mapping):
        return _opt_str(value.get("id"))
    return None


def token_set_from_response(body: Mapping[str, Any], *, prefer_user: bool) -> TokenSet:
    """Build a TokenSet from an oauth.v2.access answer (`ok` already checked).

    An authorization_code answer carries the user token under `authed_user` (the top-level
    token, if any, is the bot's); a refresh answer carries it at the top level. With
    `prefer_user`, `authed_user` wins when it holds a token; otherwise top level wins.
    """
    authed = body.get("authed_user")
    authed = authed if isinstance(authed, Mapping) else {}
    user_block = authed if isinstance(authed.get("access_token"), str) else None
    top_block = body if isinstance(body.get("access_token"), str) else None
    block = (user_block or top_block) if prefer_user else (top_block or user_block)
    if block is None or not block.get("access_token"):
        raise OAuthError("oauth.v2.access answered ok but with no access token", code="no_token")
    expires_in = block.get("expires_in")
    expires_at = None
    if isinstance(expires_in, int | float) and not isinstance(expires_in, bool):
        expires_at = clock.now_ts() + int(expires_in)
    token_type = _opt_str(block.get("token_type"))
    if token_type is None:
        token_type = "user" if block is user_block else "bot"
    refresh = _opt_str(block.get("refresh_token"))
    return TokenSet(
        access_token=SecretStr(str(block["access_token"])),
        refresh_token=SecretStr(refresh) if refresh else None,
        expires_at=expires_at,
        scopes=_scopes(block.get("scope")),
        token_type=token_type,
        team_id=_id_of(body.get("team")),
        enterprise_id=_id_of(body.get("enterprise")),
        is_enterprise_install=body.get("is_enterprise_install") is True,
        user_id=_opt_str(authed.get("id")) or _opt_str(body.get("user_id")),
    )


def post_token_endpoint(
    http: httpx.Client,
    token_url: str,
    *,
    client_id: str,
    client_secret: SecretStr,
    form: Mapping[str, str],
) -> tuple[int, Mapping[str, Any] | None, str]:
    """POST to oauth.v2.access with HTTP Basic client auth.

    Returns (status, JSON object or None, problem) and raises httpx.TransportError as is.
    `problem` describes a non-JSON body ("" when the body parsed).
    """
    resp = http.post(
        token_url,
        data=dict(form),
        auth=httpx.BasicAuth(client_id, client_secret.get_secret_value()),
        headers={"Accept": "application/json"},
    )
    try:
        body = resp.json()
    except ValueError:
        kind = resp.headers.get("content-type", "unknown").split(";")[0] or "unknown"
        return resp.status_code, None, f"a non-JSON body ({kind})"
    if not isinstance(body, Mapping):
        return resp.status_code, None, "a JSON body that is not an object"
    return resp.status_code, body, ""


def exchange_code(
    http: httpx.Client,
    *,
    client_id: str,
    client_secret: SecretStr,
    code: str,
    redirect_uri: str,
    token_url: str = TOKEN_URL,
) -> TokenSet:
    """Swap an authorization code for a TokenSet (user token from `authed_user`)."""
    REDACTOR.add(client_secret.get_secret_value())
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
    }
    try:
        status, body, problem = post_token_endpoint(
            http, token_url, client_id=client_id, client_secret=client_secret, form=form
        )
    except httpx.TransportError as exc:
        raise OAuthError(
            f"cannot reach Slack's oauth.v2.access ({type(exc).__name__}); check the network "
            "and run the install again",
            code="transport",
        ) from None
    if body is None:
        raise OAuthError(
            f"oauth.v2.access answered HTTP {status} with {problem}; run the install again",
            code="bad_response",
        )
    if status != 200 or body.get("ok") is not True:
        error = _opt_str(body.get("error")) or "unknown_error"
        error = re.sub(r"[^A-Za-z0-9_.-]", "?", error)[:64]
        hint = _EXCHANGE_HINTS.get(error, "see Slack's oauth.v2.access documentation")
        raise OAuthError(
            f"oauth.v2.access refused the code: HTTP {status}, error {error!r}: {hint}",
            code=error,
        )
    return token_set_from_response(body, prefer_user=True)


# --------------------------------------------------------------------------- checks


def check_token(token_set: TokenSet, log_types: Iterable[str]) -> None:
    """Refuse a token that cannot poll `log_types`: a bot token, a missing scope, or an
    audit token from a workspace (not organization) install. The message says what to do."""
    log_types = list(log_types)
    if token_set.is_bot:
        raise OAuthError(
            "got a bot token, but the Audit Logs API and team.accessLogs/integrationLogs "
            "need a user token: put the scopes under OAuth & Permissions > User Token Scopes "
            "(not Bot Token Scopes) and run the install again",
            code="bot_token",
        )
    needed = user_scopes(log_types)
    granted = set(token_set.scopes)
    missing = [s for s in needed if s not in granted]
    if missing:
        by_scope = sorted({lt for lt in log_types for s in SCOPES[lt] if s in missing})
        steps = "; ".join(_SCOPE_HELP.get(s, f"add {s} under User Token Scopes") for s in missing)
        raise OAuthError(
            f"the token is missing scope(s) {', '.join(missing)} needed for "
            f"{', '.join(by_scope)} logs (granted: {', '.join(sorted(granted)) or 'none'}). "
            f"To fix: {steps}.",
            code="missing_scope",
        )
    if "audit" in log_types and not token_set.is_enterprise_install:
        raise OAuthError(
            "audit logs need the app installed on the organization (Enterprise Grid), but "
            "it was installed on a single workspace: install the app on the organization "
            "as the org owner and run the install again",
            code="not_enterprise_install",
        )


# --------------------------------------------------------------------------- the whole flow


def run_install(
    http: httpx.Client,
    *,
    client_id: str,
    client_secret: SecretStr,
    log_types: Iterable[str],
    redirect_uri: str,
    out: IO[str] | None = None,
    open_browser: bool = False,
    paste: bool = False,
    stdin: IO[str] | None = None,
    listener: RedirectListener | None = None,
    ssl_context: ssl.SSLContext | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    team: str | None = None,
    authorize_base: str = AUTHORIZE_URL,
    token_url: str = TOKEN_URL,
    opener: Callable[[str], object] = webbrowser.open,
) -> TokenSet:
    """The whole install: URL → consent → redirect → code → TokenSet, checked for log_types.

    `redirect_uri` must equal a Redirect URL configured in the Slack app. The code arrives
    through a local `RedirectListener` built from `redirect_uri` (or the one passed, whose
    `state` is then used), or, with `paste=True`, from a line read from `stdin` holding the
    URL the browser was redirected to. The caller persists the result (e.g.
    `connector.tokens.TokenFile.save`).
    """
    out = out or sys.stderr
    log_types = list(log_types)
    scopes = user_scopes(log_types)
    REDACTOR.add(client_secret.get_secret_value())

    own_listener = False
    if paste:
        state = new_state()
    else:
        if listener is None:
            listener = RedirectListener.for_redirect_uri(redirect_uri, ssl_context=ssl_context)
            own_listener = True
        listener.start()
        state = listener.state
    try:
        url = authorize_url(client_id, scopes, redirect_uri, state, authorize_base, team=team)
        where = (
            "on the organization (Enterprise Grid), signed in as the org owner"
            if "audit" in log_types
            else "on the workspace, signed in as an owner"
        )
        print(
            f"Open this URL in a browser, install the app {where}, and click Allow:\n\n  {url}\n",
            file=out,
            flush=True,
        )
        if open_browser:
            try:
                opener(url)
            except Exception:  # noqa: BLE001 - a missing browser is not fatal; URL is printed
                print("(could not open a browser; open the URL yourself)", file=out, flush=True)
        if paste:
            print(
                "After clicking Allow, paste the full URL your browser was sent to, then "
                "press Enter:",
                file=out,
                flush=True,
            )
            line = (stdin or sys.stdin).readline()
            if not line.strip():
                raise OAuthError("no redirect URL was pasted", code="no_code")
            code = code_from_redirect(line, state)
        else:
            assert listener is not None
            print(f"Waiting up to {timeout:g}s for Slack's redirect...", file=out, flush=True)
            code = listener.wait_for_code(timeout)
    finally:
        if own_listener and listener is not None:
            listener.close()

    token_set = exchange_code(
        http,
        client_id=client_id,
        client_secret=client_secret,
        code=code,
        redirect_uri=redirect_uri,
        token_url=token_url,
    )
    check_token(token_set, log_types)
    rotating = (
        f"rotating, expires in {token_set.seconds_left()}s"
        if token_set.expires_at is not None
        else "not rotating"
    )
    print(
        f"Installed: user token with scopes {', '.join(token_set.scopes)} ({rotating}).",
        file=out,
        flush=True,
    )
    return token_set


__all__ = [
    "AUTHORIZE_URL",
    "CALLBACK_PATH",
    "SCOPES",
    "TOKEN_URL",
    "OAuthError",
    "RedirectListener",
    "TokenSet",
    "authorize_url",
    "check_token",
    "code_from_redirect",
    "exchange_code",
    "new_state",
    "run_install",
    "token_set_from_response",
    "user_scopes",
]
