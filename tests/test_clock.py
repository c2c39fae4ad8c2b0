"""The one clock: UTC everywhere, and the fast RFC 3339 formatter agrees with datetime."""

from __future__ import annotations

from datetime import UTC, datetime

from freezegun import freeze_time
from hypothesis import given
from hypothesis import strategies as st

from connector import clock


@given(st.integers(0, 4_102_444_800) | st.floats(0, 4_102_444_800, allow_nan=False))
def test_rfc3339_matches_datetime(ts: float) -> None:
    dt = datetime.fromtimestamp(ts, UTC)
    fmt = "%Y-%m-%dT%H:%M:%SZ" if ts == int(ts) else "%Y-%m-%dT%H:%M:%S.%fZ"
    assert clock.rfc3339(ts) == dt.strftime(fmt)


def test_now_is_utc_and_frozen_exactly() -> None:
    with freeze_time("2026-11-23 16:00:00"):
        assert clock.now() == datetime(2026, 11, 23, 16, 0, tzinfo=UTC)
        assert clock.now_ts() == 1_795_449_600
