"""The one place the connector reads the time, always in UTC, so freezegun tests are exact."""

from __future__ import annotations

import functools
from datetime import UTC, datetime


def now() -> datetime:
    return datetime.now(UTC)


def now_ts() -> int:
    """Whole unix seconds: Slack's APIs filter on integer seconds."""
    return int(now().timestamp())


@functools.lru_cache(maxsize=4096)
def rfc3339(ts: float) -> str:
    """RFC 3339 in UTC with a `Z`, microseconds only when present."""
    dt = datetime.fromtimestamp(ts, UTC)
    if dt.microsecond:
        return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")
