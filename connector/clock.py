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

    Called once per event, so whole seconds are a cached hour plus a table lookup.
    """
    whole = int(ts)
    if whole != ts:
        return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    hour, rest = divmod(whole, 3600)
    return _hour(hour) + _MINUTE_SECOND[rest]


@functools.lru_cache(maxsize=4096)
def _hour(hour: int) -> str:
    return datetime.fromtimestamp(hour * 3600, UTC).strftime("%Y-%m-%dT%H:")


_MINUTE_SECOND = [f"{m:02d}:{s:02d}Z" for m in range(60) for s in range(60)]
