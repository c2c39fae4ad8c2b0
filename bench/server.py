"""The project's FakeSlack, with an Audit Logs endpoint that scales to millions of events.

The stock `FakeSlack._audit_page` filters, sorts and deep-copies the whole event list on
every request and then `json.dumps` the page: at 1M events that is seconds of server CPU per
page, so the benchmark would time the fake, not the connector. `BenchSlack` keeps
everything else (HTTP/1.1 keep-alive, auth, request recording, cursor format with its
"+/+/" URL-encoding trap, response shape) and answers audit pages from a pre-encoded blob
(`bench.dataset.AuditData`): two binary searches and one slice per request.

Semantics are those of the stock fake for the parameters the connector sends (`oldest`,
`latest`, `limit`, `cursor`; results newest first by (date_create, seq); a cursor is the
position of the last entry returned). Filters (`action`, `actor`, `entity`) are not
supported and fall back to the stock implementation over no data.

`team.accessLogs` is the stock fake's: it keeps its sorted order until the rows change.
"""

from __future__ import annotations

import math
import time
from collections import deque
from typing import Any

from bench.dataset import AuditData
from tests.fakes.slack_server import (
    _AUDIT_TAG,
    AUDIT_MAX_LIMIT,
    FakeSlack,
    _ApiError,
    _audit_json,
    _decode_cursor,
    _encode_cursor,
    _int_param,
    _Response,
)


class BenchSlack(FakeSlack):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.data: AuditData | None = None
        self.enforce_per_minute: float | None = None
        """When set, audit calls beyond this many in any 60 seconds get HTTP 429 with the
        seconds until the window has room as Retry-After, as a Slack that enforces its
        tier would answer."""
        self._audit_calls: deque[float] = deque()

    def load_audit(self, data: AuditData | None) -> None:
        """Replace the audit dataset (None: none)."""
        with self._lock:
            self.data = data

    def _audit_endpoint(self, params: dict[str, str], headers: dict[str, str]) -> _Response:
        data = self.data
        if data is None or any(params.get(k) for k in ("action", "actor", "entity")):
            return super()._audit_endpoint(params, headers)
        auth_error = self._auth_error(headers)
        if auth_error == "not_authed":
            return _Response(401)
        if auth_error is not None:
            return _Response(401, _audit_json({"ok": False, "error": "invalid_auth"}))
        limited = self._over_budget()
        if limited:
            return _Response(
                429,
                _audit_json({"ok": False, "error": "ratelimited"}),
                headers={"Retry-After": str(limited)},
            )
        try:
            self._check_set_error("logs")
            body = self._page(data, params)
        except _ApiError as err:
            response = _Response(err.status, _audit_json({"ok": False, "error": err.error}))
            if err.status == 429:
                response.headers["Retry-After"] = "1"
            return response
        return _Response(200, body)

    def _over_budget(self) -> int:
        """Seconds to wait (0: the call is within the enforced budget and is counted)."""
        limit = self.enforce_per_minute
        if limit is None:
            return 0
        with self._lock:
            now, calls = time.monotonic(), self._audit_calls
            while calls and calls[0] <= now - 60:
                calls.popleft()
            if len(calls) >= limit:
                return max(1, math.ceil(calls[0] + 60 - now))
            calls.append(now)
            return 0

    def _page(self, data: AuditData, params: dict[str, str]) -> bytes:
        limit = _int_param(params, "limit", 100)
        if not 1 <= limit <= AUDIT_MAX_LIMIT:
            raise _ApiError("invalid_limit")
        oldest = _int_param(params, "oldest", -(2**62))
        latest = _int_param(params, "latest", 2**62)
        cursor = params.get("cursor")
        position = _decode_cursor(_AUDIT_TAG, 2, cursor) if cursor else (2**62, 2**62)
        # Entries are stored newest first: (date, seq) strictly decreasing with the index.
        bound = min(position, (latest, 2**62 + 1))  # first entry strictly below this
        dates, seqs, n = data.dates, data.seqs, data.count
        lo, hi = 0, n
        while lo < hi:
            mid = (lo + hi) // 2
            if (dates[mid], seqs[mid]) >= bound:
                lo = mid + 1
            else:
                hi = mid
        start = lo
        lo, hi = start, n
        while lo < hi:  # end: first entry older than `oldest`
            mid = (lo + hi) // 2
            if dates[mid] >= oldest:
                lo = mid + 1
            else:
                hi = mid
        end = lo
        size = min(limit, self.audit_max_page or limit)
        stop = min(end, start + size)
        offsets = data.offsets
        entries = memoryview(data.blob)[offsets[start] : offsets[stop] - 1 if stop > start else 0]
        next_cursor = ""
        if end > stop:
            next_cursor = _encode_cursor(_AUDIT_TAG, dates[stop - 1], seqs[stop - 1])
        return b"".join(
            (
                b'{"entries":[',
                entries,
                b'],"response_metadata":{"next_cursor":"',
                next_cursor.encode(),
                b'"}}',
            )
        )
