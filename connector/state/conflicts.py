"""Transaction conflicts on DynamoDB: which errors are one, and retrying them in a budget.

DynamoDB answers a write that meets an item another transaction holds with
`TransactionConflictException`, and cancels a transaction that meets one with
`TransactionCanceledException`, reason `TransactionConflict` for that item and `None` for
the others. Nothing was written in either case, and the holder finishes within moments,
so the call is worth repeating; botocore's standard retry mode does not (they are not
throttling or transient errors by its rules). A transaction cancelled for any other
reason (a failed condition) is an answer, not a conflict, and is never retried here.

Retries back off with full jitter (a random wait up to an exponentially growing cap), so
callers that met the same holder do not all come back at once, and stop when the call's
budget is spent: the caller then sees the conflict as the error it is.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from botocore.exceptions import ClientError

T = TypeVar("T")
FIRST_WAIT = 0.05
"""The cap of the first back-off, in seconds; it doubles per retry up to `MAX_WAIT`."""
MAX_WAIT = 1.0
RETRYABLE = frozenset({"TransactionConflictException", "TransactionInProgressException"})
QUIET_REASONS = frozenset({"TransactionConflict", "None"})


def is_conflict(exc: BaseException) -> bool:
    """Whether the call failed only because another transaction held one of its items."""
    if not isinstance(exc, ClientError):
        return False
    code = exc.response.get("Error", {}).get("Code")
    if code in RETRYABLE:
        return True
    if code != "TransactionCanceledException":
        return False
    reasons = [str(r.get("Code") or "None") for r in exc.response.get("CancellationReasons", [])]
    return bool(reasons) and "TransactionConflict" in reasons and QUIET_REASONS.issuperset(reasons)


class Backoff:
    """Retries a call while it meets conflicts and `budget` seconds since its first attempt
    allow another wait. Thread-safe; counts the conflicts it met and the calls it gave up on."""

    def __init__(
        self,
        budget: float,
        *,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.budget = budget
        self._sleep = sleep
        self._now = monotonic
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        self.conflicts = 0
        self.gave_up = 0

    def run(self, call: Callable[[], T]) -> T:
        deadline = self._now() + self.budget
        cap = FIRST_WAIT
        while True:
            try:
                return call()
            except ClientError as exc:
                if not is_conflict(exc):
                    raise
                with self._lock:
                    self.conflicts += 1
                    wait = self._rng.uniform(0, cap)
                if self._now() + wait >= deadline:
                    with self._lock:
                        self.gave_up += 1
                    raise
                self._sleep(wait)
                cap = min(MAX_WAIT, cap * 2)
