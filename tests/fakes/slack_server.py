"""A fake Slack server (Audit Logs API, team.accessLogs, team.integrationLogs) on a real socket.

Why a socket server instead of mocking httpx: the daemon's hardest code paths (connection
resets, truncated bodies, HTML 5xx pages from the edge, 429 + Retry-After, cursors that must
be URL-encoded) only run against real HTTP. Stdlib only, so the fake cannot drift with a
mocking library's version.

Behaviour follows /work/shared/SLACK_API.md. Where that sheet says UNCERTAIN, the fake picks
one behaviour and offers a knob for the other, so the daemon gets tested against both.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import math
import random
import socket
import struct
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.fakes import slack_admin as admin

AUDIT_METHOD = "logs"
ACCESS_METHOD = "team.accessLogs"
INTEGRATION_METHOD = "team.integrationLogs"
METHODS = frozenset({AUDIT_METHOD, ACCESS_METHOD, INTEGRATION_METHOD}) | admin.METHODS
FAULT_KINDS = frozenset(
    {"429", "html500", "truncated", "garbage", "reset", "slow", "ok_false", "401"}
)

AUDIT_MAX_LIMIT = 9999
WEB_MAX_COUNT = 1000
WEB_MAX_PAGE = 100

# Three leading bytes that base64-encode to "+/+/", and a length padded to 1 (mod 3) so the
# cursor always ends in "==". A client that forgets to URL-encode it ("+" turns into " ")
# therefore fails at once with invalid_cursor instead of passing by luck.
_CURSOR_MAGIC = b"\xfb\xff\xbf"
_AUDIT_TAG = b"audit"
_ACCESS_TAG = b"access"

# Audit API status for a persistent set_error; the sheet leaves most of these UNCERTAIN.
_AUDIT_ERROR_STATUS = {
    "not_authed": 401,
    "invalid_auth": 401,
    "token_revoked": 401,
    "token_expired": 401,
    "account_inactive": 401,
    "ratelimited": 429,
}

_JSON = "application/json; charset=utf-8"
_HTML_ERROR = (
    b"<html><head><title>502 Bad Gateway</title></head><body><h1>You've found a glitch"
    b"</h1><p>Something went wrong upstream.</p></body></html>"
)


class CaseInsensitiveDict(dict[str, str]):
    """HTTP header names are case-insensitive, so `headers["Authorization"]` and
    `headers["authorization"]` both work whatever casing the client sent. Keys are stored
    lowercased."""

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        super().__init__((k.lower(), v) for k, v in items)

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(key.lower())

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and super().__contains__(key.lower())

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(key.lower(), default)


@dataclass
class RecordedRequest:
    """One request as the server saw it, appended to `FakeSlack.requests` on arrival (so a
    request a client timed out on still counts) and given its status before the response
    is written (so once a client has a response, `status` is final)."""

    method: str  # "logs", "team.accessLogs", ... (or the raw path for unknown routes)
    path: str  # URL path without the query string
    params: dict[str, str]  # query string merged with the POST form body
    headers: dict[str, str]  # a CaseInsensitiveDict
    status: int  # HTTP status sent; 0 while in progress and for a "reset" fault
    verb: str = "GET"
    at: float = field(default_factory=time.time)  # lets tests check request spacing


@dataclass
class _Response:
    status: int
    body: bytes = b""
    content_type: str = _JSON
    headers: dict[str, str] = field(default_factory=dict)
    reset: bool = False


class _ApiError(Exception):
    """An error answer: ok:false + code. `status` only matters for the Audit API."""

    def __init__(self, error: str, status: int = 400) -> None:
        super().__init__(error)
        self.error = error
        self.status = status


def _encode_cursor(tag: bytes, *numbers: int) -> str:
    raw = _CURSOR_MAGIC + tag + struct.pack(f">{len(numbers)}q", *numbers)
    raw += b"\x00" * ((1 - len(raw)) % 3)
    return base64.b64encode(raw).decode("ascii")


def _decode_cursor(tag: bytes, count: int, cursor: str) -> tuple[int, ...]:
    """Inverse of _encode_cursor; raises _ApiError("invalid_cursor") on anything else."""
    try:
        raw = base64.b64decode(cursor, validate=True)
    except (binascii.Error, ValueError):
        raise _ApiError("invalid_cursor") from None
    head, size = _CURSOR_MAGIC + tag, 8 * count
    body, rest = raw[len(head) : len(head) + size], raw[len(head) + size :]
    if not raw.startswith(head) or len(body) != size or rest.strip(b"\x00"):
        raise _ApiError("invalid_cursor")
    return struct.unpack(f">{count}q", body)


_SCALARS = (str, int, float, bool, type(None))


def _copy(row: dict[str, Any]) -> dict[str, Any]:
    """`copy.deepcopy`, with a shallow copy for a row of scalars (an access row), which is
    the same thing: a listing of 150,000 rows is copied in a fraction of the time."""
    if all(isinstance(v, _SCALARS) for v in row.values()):
        return dict(row)
    return copy.deepcopy(row)


def _int_param(params: dict[str, str], name: str, default: int) -> int:
    if name not in params or params[name] == "":
        return default
    try:
        return int(params[name])
    except ValueError:
        raise _ApiError("invalid_arguments") from None


def _web_json(obj: Any) -> bytes:
    """Slack's Web API escapes "/" as "\\/" (and non-ASCII as \\uXXXX); a daemon that
    regexes bodies instead of parsing them breaks here, which is the point."""
    return json.dumps(obj).replace("/", "\\/").encode("ascii")


def _audit_json(obj: Any) -> bytes:
    return json.dumps(obj).encode("ascii")


class _Server(ThreadingHTTPServer):
    """Remembers which connections must end with a TCP RST rather than a polite FIN."""

    daemon_threads = True
    fake: FakeSlack

    def __init__(self, fake: FakeSlack) -> None:
        self.fake = fake
        self.reset_connections: set[socket.socket] = set()
        super().__init__(("127.0.0.1", 0), _Handler)

    def shutdown_request(self, request: Any) -> None:
        if request in self.reset_connections:
            # SO_LINGER(0) is set: closing without shutdown(SHUT_WR) sends RST.
            self.reset_connections.discard(request)
            self.close_request(request)
        else:
            super().shutdown_request(request)


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.1 keep-alive like the real edge, so httpx reuses pooled connections and a
    # "reset" can hit a connection the client believes is healthy.
    protocol_version = "HTTP/1.1"
    timeout = 30  # idle keep-alive connections are dropped after this
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Silence per-request stderr logging; `FakeSlack.requests` records everything."""

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without NODELAY, Nagle plus delayed
        # ACKs add ~40 ms to every keep-alive response.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.fake._track(self.connection, open_=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.fake._track(self.connection, open_=False)

    def do_GET(self) -> None:
        self.server.fake._serve(self, "GET")

    def do_POST(self) -> None:
        self.server.fake._serve(self, "POST")


class FakeSlack:
    """Fake Slack with data stores, behaviour knobs and fault injection.

    Plain attributes (`audit_max_page`, `short_pages`, ...) may be changed while running;
    they are read on every request.
    """

    def __init__(self, tokens: Iterable[str] = ("xoxp-test-token",), *, seed: int = 0) -> None:
        self._lock = threading.RLock()
        self._tokens = set(tokens)
        self.issued_tokens: Callable[[], Iterable[str]] | None = None
        """Tokens an OAuth fake has issued count as valid too (rotation tests)."""
        self._revoked: set[str] = set()
        self._rng = random.Random(seed)
        self._audit: list[tuple[int, int, dict[str, Any]]] = []  # (date_create, seq, event)
        self._listed_at: dict[int, float] = {}  # seq -> when a late-indexed event appears
        self._seq = 0
        self._access: dict[tuple[Any, Any, Any], dict[str, Any]] = {}
        self._integration: list[dict[str, Any]] = []
        self._errors: dict[str, tuple[str, int | None]] = {}
        self._faults: dict[str, deque[tuple[str, dict[str, Any]]]] = {}
        self._conns: set[socket.socket] = set()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

        self.audit_max_page: int | None = None
        self.short_pages = False
        self.omit_metadata_on_last_page = False
        self.access_sort_key = "date_last"
        self.access_before_field = "date_last"
        self.access_cursor = "offset"
        """team.accessLogs cursor mode: "offset" (a position, like SQL OFFSET), "error"
        (refused with `invalid_arguments`) or "ignored" (answered as classic pages)."""
        self.access_short_pages = False
        """Cursor pages of a random size up to `limit`, a cursor still following."""
        self.repeat_access_cursor = 0
        """How many access cursor requests get their own cursor back."""
        self.invalid_access_cursor = 0
        """How many access cursor requests are refused with `invalid_cursor`."""
        self._access_version = 0
        self._access_sorted: tuple[tuple[str, int], list[dict[str, Any]]] | None = None
        self._access_before: tuple[tuple[str, int, str, float], list[dict[str, Any]]] | None = None
        self.integration_order = "newest_first"
        self.clock_offset = 0.0
        """Slack's clock minus the host's: `now()` and the default `before` use it."""
        self.audit_index_delay = 0.0
        """Seconds after `add_audit` before an event is listed (Slack indexes late)."""
        self.repeat_audit_cursor = 0
        """How many cursor requests get their own cursor back (a looping cursor)."""
        self.on_request: Callable[[str, dict[str, str]], None] | None = None
        self.requests: list[RecordedRequest] = []
        # Tracebacks of exceptions inside the fake (answered as HTTP 500 text/plain), so a
        # test can tell a bug in the fake from an injected fault.
        self.server_errors: list[str] = []
        self.admin = admin.AdminApi()
        """The anomaly allow-list, the audit catalog (`/actions`, `/schemas`), the org's
        workspaces (`admin.teams.list`)."""
        self.workspaces: dict[str, FakeSlack] = {}

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> FakeSlack:
        if self._server is not None:
            return self
        self._stopping = threading.Event()
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and cut open keep-alive connections, so a client still holding a
        pooled connection cannot talk to a stopped server."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()  # wakes "slow" faults
        server.shutdown()
        server.server_close()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeSlack is not running; call start() first")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def audit_api_url(self) -> str:
        return self.base_url + "/audit/v1/"

    @property
    def web_api_url(self) -> str:
        return self.base_url + "/api/"

    # ------------------------------------------------------------------ data
    def now(self) -> int:
        """Slack's clock, `clock_offset` seconds from the host's."""
        return int(time.time() + self.clock_offset)

    def add_audit(self, events: Iterable[dict[str, Any]]) -> None:
        """Add audit events in any order. Each gets a sequence number so events in the same
        second keep a stable newest-first order (later-added counts as newer)."""
        with self._lock:
            for event in events:
                if not isinstance(event.get("date_create"), int):
                    raise ValueError(f"audit event needs an int date_create: {event!r}")
                self._seq += 1
                self._audit.append((event["date_create"], self._seq, copy.deepcopy(event)))
                if self.audit_index_delay:
                    self._listed_at[self._seq] = time.time() + self.audit_index_delay

    def add_access(self, rows: Iterable[dict[str, Any]]) -> None:
        """Upsert by (user_id, ip, user_agent). An existing row keeps its other fields and
        takes the given date_last and count, as Slack's aggregates do."""
        with self._lock:
            for row in rows:
                for name in ("user_id", "date_first", "date_last"):
                    if name not in row:
                        raise ValueError(f"access row needs {name!r}: {row!r}")
                key = (row["user_id"], row.get("ip"), row.get("user_agent"))
                self._access_version += 1
                existing = self._access.get(key)
                if existing is None:
                    self._access[key] = _copy(row)
                else:
                    existing["date_last"] = row["date_last"]
                    existing["count"] = row.get("count", existing.get("count"))

    def touch_access(self, user_id: str, ip: str | None, user_agent: str, when: int) -> None:
        """One more access by this combination: date_last = when, count += 1. An unseen
        combination becomes a new row, as a login from a new IP would."""
        with self._lock:
            key = (user_id, ip, user_agent)
            self._access_version += 1
            row = self._access.get(key)
            if row is not None:
                row["date_last"] = when
                row["count"] = int(row.get("count") or 0) + 1
                return
            sibling = next((r for r in self._access.values() if r["user_id"] == user_id), {})
            self._access[key] = {
                "user_id": user_id,
                "username": sibling.get("username", user_id),
                "date_first": when,
                "date_last": when,
                "count": 1,
                "ip": ip,
                "user_agent": user_agent,
                "isp": None,
                "country": None,
                "region": None,
            }

    def add_integration(self, logs: Iterable[dict[str, Any]]) -> None:
        """Store logs exactly as given; `date` stays a string, as Slack sends it."""
        with self._lock:
            for log in logs:
                int(log["date"])  # fail early on an unsortable date
                self._integration.append(copy.deepcopy(log))

    # ------------------------------------------------------------------ auth and faults
    def revoke(self, token: str) -> None:
        with self._lock:
            self._revoked.add(token)

    def set_error(self, method: str, error: str | None, *, status: int | None = None) -> None:
        """Persistent ok:false for `method` (after auth succeeds) until cleared with None.
        For the audit endpoint the HTTP status is `status`, else 401 for auth codes, 429
        for ratelimited and 400 otherwise (the real statuses are UNCERTAIN)."""
        self._check_method(method)
        with self._lock:
            if error is None:
                self._errors.pop(method, None)
            else:
                self._errors[method] = (error, status)

    def fail_next(self, method: str, kind: str, times: int = 1, **kw: Any) -> None:
        """Queue `times` one-shot faults for `method`, consumed FIFO by its next requests.
        Faults apply before auth: they model the edge/load balancer, not Slack's app."""
        self._check_method(method)
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {sorted(FAULT_KINDS)}")
        if kind == "slow" and "seconds" not in kw:
            raise ValueError('fail_next(..., "slow") needs seconds=')
        if kind == "ok_false" and "error" not in kw:
            raise ValueError('fail_next(..., "ok_false") needs error=')
        with self._lock:
            queue = self._faults.setdefault(method, deque())
            queue.extend((kind, dict(kw)) for _ in range(times))

    def fail_request(self, method: str, kind: str, number: int) -> None:
        """Fault the `number`-th request from now on (any method counts), once; clears
        `on_request`."""
        seen = {"n": 0}

        def hook(called: str, params: dict[str, str]) -> None:
            seen["n"] += 1
            if seen["n"] == number:
                self.fail_next(method, kind)

        self.on_request = hook

    def count(self, method: str) -> int:
        with self._lock:
            return sum(1 for r in self.requests if r.method == method)

    @staticmethod
    def _check_method(method: str) -> None:
        if method not in METHODS:
            raise ValueError(f"unknown method {method!r}; expected one of {sorted(METHODS)}")

    def _track(self, conn: socket.socket, *, open_: bool) -> None:
        with self._lock:
            (self._conns.add if open_ else self._conns.discard)(conn)

    # ------------------------------------------------------------------ request handling
    def _serve(self, handler: _Handler, verb: str) -> None:
        url = urlsplit(handler.path)
        headers = CaseInsensitiveDict(handler.headers.items())
        body = handler.rfile.read(int(headers.get("content-length") or 0))
        if url.path == "/audit/v1/logs":
            method = AUDIT_METHOD
        elif url.path in ("/audit/v1/actions", "/audit/v1/schemas"):
            method = url.path.rsplit("/", 1)[1]
        elif url.path.startswith("/api/"):
            method = url.path[len("/api/") :]
        else:
            method = url.path
        req = RecordedRequest(method, url.path, {}, headers, 0, verb)
        try:
            req.params.update(parse_qsl(url.query, keep_blank_values=True))
            if verb == "POST":
                req.params.update(self._form(headers.get("content-type", ""), body))
        finally:
            with self._lock:
                self.requests.append(req)
        try:
            hook = self.on_request
            if hook is not None:
                hook(method, dict(req.params))  # outside the lock: hooks call add_audit etc.
            with self._lock:
                queue = self._faults.get(method)
                fault = queue.popleft() if queue else None
            response = self._dispatch(req) if fault is None else self._fault(*fault, req)
        except Exception:
            trace = traceback.format_exc()
            self.server_errors.append(trace)
            response = _Response(500, trace.encode(), "text/plain")
        req.status = 0 if response.reset else response.status
        self._write(handler, response)

    @staticmethod
    def _form(content_type: str, body: bytes) -> dict[str, str]:
        if not body:
            return {}
        if content_type.startswith("application/json"):
            return {k: str(v) for k, v in json.loads(body).items()}
        return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))

    def _write(self, handler: _Handler, response: _Response) -> None:
        if response.reset:
            handler.connection.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
            )
            handler.server.reset_connections.add(handler.connection)
            handler.close_connection = True
            return
        try:
            handler.send_response(response.status)
            if response.body:
                handler.send_header("Content-Type", response.content_type)
            for name, value in response.headers.items():
                handler.send_header(name, value)
            handler.send_header("Content-Length", str(len(response.body)))
            handler.end_headers()
            handler.wfile.write(response.body)
        except OSError:  # client gave up (e.g. timed out on a "slow" fault)
            handler.close_connection = True

    def _fault(self, kind: str, kw: dict[str, Any], req: RecordedRequest) -> _Response:
        method = req.method
        encode = _audit_json if method == AUDIT_METHOD else _web_json
        if kind == "429":
            return _Response(
                429,
                encode({"ok": False, "error": "ratelimited"}),
                headers={"Retry-After": str(kw.get("retry_after", 1))},
            )
        if kind == "html500":
            return _Response(int(kw.get("status", 500)), _HTML_ERROR, "text/html; charset=utf-8")
        if kind == "garbage":
            return _Response(200, kw.get("body", b'<<this is not json>> {"ok": tru'))
        if kind == "reset":
            return _Response(0, reset=True)
        if kind == "401":
            return _Response(401)
        if kind == "ok_false":
            status = int(kw.get("status", 400 if method == AUDIT_METHOD else 200))
            return _Response(status, encode({"ok": False, "error": kw["error"]}))
        normal = self._dispatch(req)
        if kind == "truncated":
            normal.body = normal.body[: len(normal.body) // 2]
            return normal
        # "slow": wait (woken early by stop()), then answer normally.
        self._stopping.wait(float(kw["seconds"]))
        return self._dispatch(req)

    def _dispatch(self, req: RecordedRequest) -> _Response:
        method, params, headers = req.method, req.params, req.headers
        if method == AUDIT_METHOD:
            if req.verb != "GET":
                return _Response(405, _audit_json({"ok": False, "error": "method_not_allowed"}))
            return self._audit_endpoint(params, headers)
        if method in (admin.ACTIONS, admin.SCHEMAS):  # no token needed
            body = self.admin.catalog_body
            return _Response(
                200, body if body is not None else _audit_json(self.admin.catalog(method))
            )
        if req.path.startswith("/api/"):
            try:
                if method not in (ACCESS_METHOD, INTEGRATION_METHOD, *admin.METHODS):
                    raise _ApiError("unknown_method")
                self._check_auth_web(headers)
                self._check_set_error(method)
                if method in (ACCESS_METHOD, INTEGRATION_METHOD):
                    logs = self._workspace(params)
                    if method == ACCESS_METHOD:
                        result = logs._access_logs(params)
                    else:
                        result = logs._integration_logs(params)
                elif method == admin.TEAMS_LIST:
                    result = self.admin.teams_list(params)
                elif method == admin.ALLOW_GET:
                    result = self.admin.allow_get()
                else:
                    result = self.admin.allow_update(params)
            except (_ApiError, admin.ApiError) as err:
                result = {"ok": False, "error": err.error}
            return _Response(200, _web_json(result))
        return _Response(404, b"<html><body>404 Not Found</body></html>", "text/html")

    def _auth_error(self, headers: dict[str, str]) -> str | None:
        value = headers.get("authorization")
        if value is None:
            return "not_authed"
        scheme, _, token = value.partition(" ")
        token = token.strip()
        with self._lock:
            extra = set(self.issued_tokens()) if self.issued_tokens else set()
            if scheme.lower() != "bearer" or token not in self._tokens | extra:
                return "invalid_auth"
            if token in self._revoked:
                return "token_revoked"
        return None

    def _check_auth_web(self, headers: dict[str, str]) -> None:
        error = self._auth_error(headers)
        if error is not None:
            raise _ApiError(error)

    def _check_set_error(self, method: str) -> None:
        with self._lock:
            configured = self._errors.get(method)
        if configured is not None:
            error, status = configured
            raise _ApiError(error, status or _AUDIT_ERROR_STATUS.get(error, 400))

    def add_workspace(self, team_id: str, name: str = "") -> FakeSlack:
        """Make this an Enterprise Grid org install: team.* methods then need `team_id`
        and answer from that workspace's own logs (the returned fake's `add_access`,
        `add_integration`), and `admin.teams.list` lists it."""
        logs = FakeSlack(seed=len(self.workspaces) + 1)
        logs.clock_offset = self.clock_offset
        with self._lock:
            self.workspaces[team_id] = logs
        self.admin.add_team(team_id, name or team_id.lower())
        return logs

    def _workspace(self, params: dict[str, str]) -> FakeSlack:
        """Whose team.* logs a request reads: this fake's, or with workspaces (an org
        install) the one `team_id` names; an org token without one is refused, as Slack
        does."""
        with self._lock:
            if not self.workspaces:
                return self
            team = params.get("team_id", "")
            if not team:
                raise _ApiError("missing_argument")
            if team not in self.workspaces:
                raise _ApiError("team_not_found")
            return self.workspaces[team]

    # ------------------------------------------------------------------ Audit API
    def _audit_endpoint(self, params: dict[str, str], headers: dict[str, str]) -> _Response:
        auth_error = self._auth_error(headers)
        if auth_error == "not_authed":
            return _Response(401)  # what java's live test saw: "status: 401, no response body"
        if auth_error is not None:
            return _Response(401, _audit_json({"ok": False, "error": "invalid_auth"}))
        try:
            self._check_set_error(AUDIT_METHOD)
            result = self._audit_page(params)
        except _ApiError as err:
            response = _Response(err.status, _audit_json({"ok": False, "error": err.error}))
            if err.status == 429:
                response.headers["Retry-After"] = "1"
            return response
        return _Response(200, _audit_json(result))

    def _audit_page(self, params: dict[str, str]) -> dict[str, Any]:
        limit = _int_param(params, "limit", 100)
        if not 1 <= limit <= AUDIT_MAX_LIMIT:
            raise _ApiError("invalid_limit")
        oldest = _int_param(params, "oldest", -(2**62))
        latest = _int_param(params, "latest", 2**62)
        action, actor, entity = params.get("action"), params.get("actor"), params.get("entity")
        # The cursor holds only a position: filters come from *this* request alone, so a
        # client that does not resend `oldest` pages on into older history.
        position = _decode_cursor(_AUDIT_TAG, 2, params["cursor"]) if params.get("cursor") else None

        with self._lock:
            listed = time.time()
            matching = [
                (date, seq, event)
                for date, seq, event in self._audit
                if oldest <= date <= latest
                and self._listed_at.get(seq, 0.0) <= listed
                and (position is None or (date, seq) < position)
                and (action is None or event.get("action") == action)
                and (actor is None or _actor_id(event) == actor)
                and (entity is None or _entity_id(event) == entity)
            ]
            matching.sort(key=lambda item: (item[0], item[1]), reverse=True)
            size = min(limit, self.audit_max_page or limit)
            if self.short_pages and len(matching) > 1:
                size = self._rng.randint(1, size)
            page = matching[:size]
            entries = copy.deepcopy([event for _, _, event in page])

        if len(matching) > len(page):
            last_date, last_seq, _ = page[-1]
            cursor = _encode_cursor(_AUDIT_TAG, last_date, last_seq)
            with self._lock:
                if params.get("cursor") and self.repeat_audit_cursor > 0:
                    self.repeat_audit_cursor -= 1
                    cursor = params["cursor"]
            return {"entries": entries, "response_metadata": {"next_cursor": cursor}}
        if self.omit_metadata_on_last_page:
            return {"entries": entries}
        return {"entries": entries, "response_metadata": {"next_cursor": ""}}

    # ------------------------------------------------------------------ Web API methods
    def _classic_paging(self, params: dict[str, str]) -> tuple[int, int]:
        count = _int_param(params, "count", 100)
        page = _int_param(params, "page", 1)
        if count < 1 or page < 1:
            raise _ApiError("invalid_arguments")
        if count > WEB_MAX_COUNT or page > WEB_MAX_PAGE:
            raise _ApiError("over_pagination_limit")
        return count, page

    @staticmethod
    def _paged(key: str, rows: list[dict[str, Any]], count: int, page: int) -> dict[str, Any]:
        total = len(rows)
        return {
            "ok": True,
            key: rows[(page - 1) * count : page * count],
            # paging.count is the *requested* size (the doc example: count 100, total 2).
            "paging": {
                "count": count,
                "total": total,
                "page": page,
                "pages": math.ceil(total / count) or 1,
            },
        }

    def _access_logs(self, params: dict[str, str]) -> dict[str, Any]:
        try:
            before = float(params["before"]) if params.get("before") else self.now()
        except ValueError:
            raise _ApiError("invalid_arguments") from None
        limit = _int_param(params, "limit", 0)
        cursor = params.get("cursor", "")
        cursor_mode = (limit > 0 or bool(cursor)) and self.access_cursor != "ignored"
        if cursor_mode and self.access_cursor == "error":
            raise _ApiError("invalid_arguments")
        if cursor_mode:
            limit = limit or 100
            if limit > WEB_MAX_COUNT:
                raise _ApiError("invalid_limit")
            with self._lock:
                if cursor and self.invalid_access_cursor > 0:
                    self.invalid_access_cursor -= 1
                    raise _ApiError("invalid_cursor")
            offset = _decode_cursor(_ACCESS_TAG, 1, cursor)[0] if cursor else 0
        else:
            count, page = self._classic_paging(params)

        with self._lock:
            rows = self._access_rows(self.access_before_field, self.access_sort_key, before)
            if not cursor_mode:
                result = self._paged("logins", rows, count, page)
                result["logins"] = [_copy(r) for r in result["logins"]]
                return result
            # Offset cursor, like a SQL OFFSET: rows that move while a client pages can be
            # skipped or repeated, which is what the daemon must tolerate.
            size = self._rng.randint(1, limit) if self.access_short_pages else limit
            end = offset + size
            served = [_copy(r) for r in rows[offset:end]]
            following = _encode_cursor(_ACCESS_TAG, end) if end < len(rows) else ""
            if following and cursor and self.repeat_access_cursor > 0:
                self.repeat_access_cursor -= 1
                following = cursor
        return {"ok": True, "logins": served, "response_metadata": {"next_cursor": following}}

    def _access_rows(self, before_field: str, sort_key: str, before: float) -> list[dict[str, Any]]:
        """Rows at or before `before`, newest first; ties keep insertion order. Called with
        the lock held; the caller copies what it serves. The sorted order is kept until
        the rows change, so a listing of 150,000 rows is not sorted once per request."""
        version = (sort_key, self._access_version)
        if self._access_sorted is None or self._access_sorted[0] != version:
            ordered = sorted(self._access.values(), key=lambda r: r[sort_key], reverse=True)
            self._access_sorted = (version, ordered)
        if self._access_before is None or self._access_before[0] != (
            *version,
            before_field,
            before,
        ):
            rows = [r for r in self._access_sorted[1] if r[before_field] <= before]
            self._access_before = ((*version, before_field, before), rows)
        return self._access_before[1]

    def _integration_logs(self, params: dict[str, str]) -> dict[str, Any]:
        count, page = self._classic_paging(params)
        order = self.integration_order
        if order not in ("newest_first", "oldest_first"):
            raise ValueError(f"integration_order must be newest_first or oldest_first: {order!r}")
        with self._lock:
            logs = copy.deepcopy(self._integration)
        for param, name in (
            ("app_id", "app_id"),
            ("service_id", "service_id"),
            ("change_type", "change_type"),
            ("user", "user_id"),
        ):
            if params.get(param):
                logs = [log for log in logs if str(log.get(name)) == params[param]]
        logs.sort(key=lambda log: int(log["date"]), reverse=order == "newest_first")
        return self._paged("logs", logs, count, page)


def _actor_id(event: dict[str, Any]) -> Any:
    return ((event.get("actor") or {}).get("user") or {}).get("id")


def _entity_id(event: dict[str, Any]) -> Any:
    """entity.<entity.type>.id, e.g. entity.channel.id for {"type": "channel", ...}."""
    entity = event.get("entity") or {}
    return (entity.get(entity.get("type")) or {}).get("id")


def drift_records(now: int) -> dict[str, list[dict[str, Any]]]:
    """Records with fields Slack has added over time beyond the schemas (SLACK_API.md,
    "Schema drift is normal"): an agent acting for a user (`context.acting_agent`,
    `context.agent_message`), newer entity types (`workflow_v2`, `list`), and the network
    an access came from (`asn`). Serve them with `add_audit` / `add_access`: every field
    must land as sent and be a column of deploy/athena/tables.sql."""
    actor = {"type": "user", "user": {"id": "W0DRIFT01", "name": "drift", "email": "d@x.test"}}
    context = {
        "location": {"type": "enterprise", "id": "E0DRIFT", "name": "Org", "domain": "org"},
        "ua": "Slack/26.08",
        "ip_address": "203.0.113.250",
        "session_id": 8_800_000_001,
    }
    agent = {
        **context,
        "acting_agent": {"type": "slackbot", "id": "USLACKBOT", "name": "Slackbot"},
        "agent_message": "summarised the channel for the user",
    }
    audit = [
        {
            "id": f"drift-{kind}",
            "date_create": now - 90 - i,
            "action": action,
            "actor": actor,
            "entity": {"type": kind, kind: {"id": f"X{i}", "name": kind, "steps": [1, 2]}},
            "context": agent,
            "details": {"reason": "drift"},
        }
        for i, (kind, action) in enumerate(
            [("workflow_v2", "workflow_v2_published"), ("list", "list_created")]
        )
    ]
    access = [
        {
            "user_id": "U0DRIFT01",
            "username": "drift",
            "date_first": now - 600,
            "date_last": now - 300,
            "count": 2,
            "ip": "198.51.100.250",
            "user_agent": "Slack/26.08",
            "isp": "Example ISP",
            "country": "US",
            "region": "CA",
            "asn": 64496,
        }
    ]
    return {"audit": audit, "access": access, "integration": []}
