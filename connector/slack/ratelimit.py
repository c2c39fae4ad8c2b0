"""Proactive rate budgets, so the connector stays inside Slack's tiers before Slack says 429.

Slack gives no remaining-quota header, only `Retry-After` once it is too late. The Audit
Logs API allows about 50 calls a minute per organisation, shared by every app; team.*
methods about 20 a minute each. One token means one organisation, so sources that share a
token share a budget: the key is a fingerprint of the token, never the token itself. A 429
pauses the whole budget for its `Retry-After`, so the other sources sharing it stop too.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class TokenBucket:
    """Never more than `per_minute` calls in any 60 seconds, bursts of up to `burst`.

    The refill rate is what is left of the tier after the burst, so a full burst plus a
    minute of refills still fits inside the tier. The default burst is 2 % of the tier
    (one call for Slack's 20 and 50 a minute): a backfill then runs at 49 of the Audit
    API's 50 calls a minute (98 % of Slack's ceiling) where a burst of a fifth left it at
    40 (80 %).
    """

    def __init__(self, per_minute: float, burst: float | None = None) -> None:
        self.capacity = burst if burst is not None else max(1.0, per_minute / 50)
        self.rate = max(per_minute - self.capacity, 1.0) / 60.0
        self._tokens = self.capacity
        self._stamp = time.monotonic()
        self._lock = threading.Lock()

        self._paused_until = 0.0

    def reserve(self, honoured: float = 0.0) -> float:
        """Take one call from the budget; returns how long the caller must wait first.

        `honoured` is the end of a pause the caller already waited out itself (the one
        that received the 429 sleeps its `Retry-After` in its retry loop)."""
        with self._lock:
            t = time.monotonic()
            self._tokens = min(self.capacity, self._tokens + (t - self._stamp) * self.rate)
            self._stamp = t
            self._tokens -= 1
            wait = 0.0 if self._tokens >= 0 else -self._tokens / self.rate
            paused = self._paused_until - t if self._paused_until > honoured else 0.0
            return max(wait, paused)

    def pause(self, seconds: float) -> float:
        """Slack answered 429: every caller of this budget waits out `Retry-After`, not
        only the one that received it. Returns when the pause ends."""
        with self._lock:
            self._paused_until = max(self._paused_until, time.monotonic() + seconds)
            return self._paused_until

    def paused_for(self) -> float:
        """Seconds left of a 429 pause (0 when none)."""
        with self._lock:
            return max(0.0, self._paused_until - time.monotonic())


class RateBudgets:
    """Process-wide registry of buckets keyed by (token fingerprint, budget name)."""

    def __init__(self) -> None:
        self._buckets: dict[tuple[str, str], TokenBucket] = {}
        self._lock = threading.Lock()

    def bucket(self, org: str, name: str, per_minute: float) -> TokenBucket:
        """`org` identifies the organisation (a token fingerprint or an enterprise id)."""
        key = (org, name)
        with self._lock:
            if key not in self._buckets:
                self._buckets[key] = TokenBucket(per_minute)
            return self._buckets[key]

    @staticmethod
    def wait(bucket: TokenBucket, sleep: Callable[[float], None], honoured: float = 0.0) -> float:
        delay = bucket.reserve(honoured)
        if delay > 0:
            sleep(delay)
        return delay
