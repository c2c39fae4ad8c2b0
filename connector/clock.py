"""The one place the connector reads the time, always in UTC, so freezegun tests are exact."""

from __future__ import annotations

import functools
from datetime import UTC, datetime


def now() -> datetime:
    return datetime.now(UTC)


def now_ts() -> int:
    """Whole unix seconds: Slack's APIs filter on integer seconds."""
    return int(now().timestamp())


def rfc3339(ts: float) -> str:
    """RFC 3339 in UTC with a `Z`, microseconds only when present.

    Called once per event, so whole seconds are formatted by arithmetic on a cached date.
    """
    whole = int(ts)
    if whole != ts:
        return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    day, second = divmod(whole, 86_400)
    hour, rest = divmod(second, 3600)
    return f"{_date(day)}T{hour:02d}:{rest // 60:02d}:{rest % 60:02d}Z"


@functools.lru_cache(maxsize=1024)
def _date(day: int) -> str:
    return datetime.fromtimestamp(day * 86_400, UTC).strftime("%Y-%m-%d")
