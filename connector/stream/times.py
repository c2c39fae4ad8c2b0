"""Event times as the schemas accept them: unix seconds, bounded to what a calendar holds.

Streams read them to place watermarks and stop rules, the log-type models to validate;
one definition keeps the two from disagreeing on which times are trusted.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

MAX_UNIX_TIME = 4_294_967_295
"""2106-02-07, the last second a 32-bit unsigned time holds: a millisecond value (1.7e12 in
2026) is far beyond it, and so is anything a calendar or a partition path cannot hold."""


def event_time(value: Any) -> float | None:
    """A unix time a watermark may trust: what `UnixTime` accepts, else None."""
    ts = as_ts(value)
    return ts if ts is not None and 0 <= ts <= MAX_UNIX_TIME else None


def event_times(records: Iterable[Any], field: str) -> list[float | None]:
    """`event_time` of `field` in each record that is an object; the others say nothing."""
    return [event_time(r.get(field)) for r in records if isinstance(r, dict)]


def as_ts(value: Any) -> float | None:
    """A unix time from an int, float or numeric string; None when it is none of those."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None
