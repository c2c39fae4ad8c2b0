"""Slack's response shapes for the demo: errors, the Audit Logs cursor, classic Web API
paging, and the HTTP handler that serves a simulator on 127.0.0.1.

Shaped like Slack's documented behaviour so the connector's pollers meet what they meet in
production: the audit cursor holds only a position (filters come from each request),
`count`/`page` paging has Slack's limits, and the Web API escapes "/" in JSON.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import json
import socket
import sys
from http.server import BaseHTTPRequestHandler
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

Json = dict[str, Any]


class Served(Protocol):
    """What `Handler` serves: one request in, (HTTP status, JSON body) out."""

    def handle(self, path: str, params: dict[str, str], auth: str) -> tuple[int, Json]: ...


class ApiError(Exception):
    def __init__(self, code: str, status: int = 200) -> None:
        super().__init__(code)
        self.code, self.status = code, status


def audit_page(audit: list[tuple[int, int, Json]], params: dict[str, str]) -> Json:
    """Newest first within `[oldest, latest]`, both inclusive, from entries kept ascending
    by (second, sequence); the caller holds whatever lock guards them.

    The cursor names the (second, sequence) of the last entry returned, nothing else:
    like Slack's, it forgets the filters, so a client that drops `oldest` on page two
    gets everything older, which is the bug this shape lets the demo catch.
    """
    limit = int_param(params, "limit", 100)
    if not 1 <= limit <= 9999:
        raise ApiError("invalid_limit", 400)
    oldest = int_param(params, "oldest", 0)
    latest = int_param(params, "latest", sys.maxsize)
    keys = [(ts, seq) for ts, seq, _ in audit]
    hi = bisect.bisect_right(keys, (latest, sys.maxsize))
    if params.get("cursor"):  # only a position; filters are this request's
        hi = min(hi, bisect.bisect_left(keys, decode_cursor(params["cursor"])))
    lo = max(bisect.bisect_left(keys, (oldest, -1)), hi - limit)
    entries = [event for _, _, event in reversed(audit[lo:hi])]
    more = lo > bisect.bisect_left(keys, (oldest, -1))
    cursor = base64.b64encode(f"{keys[lo][0]}:{keys[lo][1]}".encode()).decode() if more else ""
    return {"entries": entries, "response_metadata": {"next_cursor": cursor}}


def int_param(params: dict[str, str], name: str, default: int, status: int = 400) -> int:
    try:
        return int(params[name]) if params.get(name) else default
    except ValueError:
        raise ApiError("invalid_arguments", status) from None


def decode_cursor(cursor: str) -> tuple[int, int]:
    try:
        ts, seq = base64.b64decode(cursor, validate=True).decode().split(":")
        return int(ts), int(seq)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ApiError("invalid_cursor", 400) from None


def classic(rows: list[Json], params: dict[str, str], key: str) -> Json:
    """Slack's classic paging: at most 1000 a page and 100 pages, `paging.count` as asked."""
    count, page = int_param(params, "count", 100, 200), int_param(params, "page", 1, 200)
    if not 1 <= count <= 1000 or not 1 <= page <= 100:
        raise ApiError("over_pagination_limit")
    pages = max(1, -(-len(rows) // count))
    return {
        "ok": True,
        key: rows[(page - 1) * count : page * count],
        "paging": {"count": count, "total": len(rows), "page": page, "pages": pages},
    }


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like Slack's edge; httpx pools connections
    timeout = 10

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the demo prints what landed, not every request."""

    def setup(self) -> None:
        super().setup()
        # Headers and body are separate writes; with Nagle and delayed ACKs every keep-alive
        # response would wait ~40 ms, which a poll of many small pages feels.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        params = {k: v[-1] for k, v in parse_qs(url.query).items()}
        simulator: Served = self.server.simulator  # type: ignore[attr-defined]
        status, body = simulator.handle(url.path, params, self.headers.get("Authorization", ""))
        text = json.dumps(body)
        # The Web API escapes "/" as "\/"; the Audit API does not.
        data = (text if url.path.startswith("/audit/") else text.replace("/", "\\/")).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
