"""Delivers alerts to every destination in the background, with retries.

`submit` never blocks the caller (the rules engine runs inside the poll loop). Each
destination has its own bounded queue and daemon worker thread, so a destination that is
down or slow (retries, timeouts) never delays delivery to the others: PagerDuty still pages
while a Slack webhook times out. When a queue is full the oldest alert in it is dropped and
an error is logged, because the newest state of a rule is the one that matters.

Nothing logged here contains a secret: destinations raise `DeliveryError` messages without
them, and every message is passed through the log redactor once more before it is logged.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

from connector.alerts.base import Alert, DeliveryError, Destination
from connector.logs import REDACTOR

log = logging.getLogger(__name__)

ResultHook = Callable[[str, Alert, bool], None]


class Dispatcher:
    def __init__(
        self,
        destinations: list[Destination],
        *,
        attempts: int = 3,
        backoff: float = 1.0,
        max_backoff: float = 60.0,
        queue_size: int = 1000,
        sleep: Callable[[float], None] = time.sleep,
        on_result: ResultHook | None = None,
    ) -> None:
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        if queue_size < 1:
            raise ValueError("queue_size must be at least 1")
        self.destinations = list(destinations)
        self._lanes = [
            _Lane(
                d,
                attempts=attempts,
                backoff=backoff,
                max_backoff=max_backoff,
                queue_size=queue_size,
                sleep=sleep,
                on_result=on_result,
            )
            for d in self.destinations
        ]
        self._closed = False

    def submit(self, alert: Alert) -> None:
        """Queue an alert for every destination and return at once."""
        if self._closed:
            log.error(
                "alert dropped: dispatcher is closed",
                extra={"alert_key": alert.key, "alert_status": alert.status},
            )
            return
        for lane in self._lanes:
            lane.put(alert)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every queued alert was delivered or given up; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for lane in self._lanes:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not lane.drain(left):
                return False
        return True

    def close(self, timeout: float | None = 30.0) -> bool:
        """Flush, stop the workers and close the destinations. True if nothing was left."""
        self._closed = True
        flushed = self.flush(timeout)
        for lane in self._lanes:
            lane.stop()
        for lane in self._lanes:
            lane.join(0.0 if not flushed else 5.0)
        for lane in self._lanes:
            lane.close_destination()
        if not flushed:
            log.error("alert dispatcher closed with undelivered alerts")
        return flushed

    @property
    def dropped(self) -> int:
        """Alerts dropped (per destination) because a queue was full."""
        return sum(lane.dropped for lane in self._lanes)

    def __enter__(self) -> Dispatcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Lane:
    """One destination's queue and worker thread."""

    def __init__(
        self,
        destination: Destination,
        *,
        attempts: int,
        backoff: float,
        max_backoff: float,
        queue_size: int,
        sleep: Callable[[float], None],
        on_result: ResultHook | None,
    ) -> None:
        self.destination = destination
        self.kind = destination.kind
        self.dropped = 0
        self._attempts = attempts
        self._backoff = backoff
        self._max_backoff = max_backoff
        self._sleep = sleep
        self._on_result = on_result
        self._maxsize = queue_size
        self._items: deque[Alert] = deque()
        self._pending = 0  # queued plus the one being delivered
        self._stopping = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, name=f"alerts-{self.kind}", daemon=True)
        self._thread.start()

    def put(self, alert: Alert) -> None:
        dropped: Alert | None = None
        with self._cond:
            if len(self._items) >= self._maxsize:
                dropped = self._items.popleft()
                self._pending -= 1
                self.dropped += 1
            self._items.append(alert)
            self._pending += 1
            self._cond.notify_all()
        if dropped is not None:
            log.error(
                "alert queue for %s is full (%d); dropped the oldest alert",
                self.kind,
                self._maxsize,
                extra=_fields(self.kind, dropped),
            )

    def drain(self, timeout: float | None) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self._pending == 0, timeout)

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    def close_destination(self) -> None:
        if self._thread.is_alive():
            # Still inside a send; closing its client under it would only add noise.
            return
        try:
            self.destination.close()
        except Exception as exc:  # noqa: BLE001 - closing must not stop the others
            log.warning("closing alert destination %s failed: %s", self.kind, type(exc).__name__)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._items and not self._stopping:
                    self._cond.wait()
                if not self._items:
                    return
                alert = self._items.popleft()
            try:
                self._deliver(alert)
            finally:
                with self._cond:
                    self._pending -= 1
                    self._cond.notify_all()

    def _deliver(self, alert: Alert) -> None:
        retrying = Retrying(
            stop=stop_after_attempt(self._attempts),
            # backoff, 2*backoff, 4*backoff ... (capped) plus up to `backoff` of jitter.
            wait=wait_exponential(multiplier=self._backoff, max=self._max_backoff)
            + wait_random(0, self._backoff),
            retry=retry_if_exception_type(DeliveryError),
            sleep=self._sleep,
            before_sleep=self._log_retry(alert),
            reraise=True,
        )
        ok = False
        try:
            retrying(self.destination.send, alert)
            ok = True
            log.info("alert delivered to %s", self.kind, extra=_fields(self.kind, alert))
        except DeliveryError as exc:
            log.error(
                "alert delivery to %s failed after %d attempts: %s",
                self.kind,
                self._attempts,
                REDACTOR.scrub(str(exc)),
                extra=_fields(self.kind, alert),
            )
        except Exception as exc:  # noqa: BLE001 - a buggy destination must not kill the worker
            # Only the type: an unexpected exception's text may carry a URL or key.
            log.error(
                "alert delivery to %s failed with an unexpected %s",
                self.kind,
                type(exc).__name__,
                extra=_fields(self.kind, alert),
            )
        if self._on_result is not None:
            try:
                self._on_result(self.kind, alert, ok)
            except Exception as exc:  # noqa: BLE001 - metrics must not break delivery
                log.warning("alert result hook failed: %s", type(exc).__name__)

    def _log_retry(self, alert: Alert) -> Callable[[RetryCallState], None]:
        def before_sleep(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            wait = state.next_action.sleep if state.next_action else 0.0
            log.warning(
                "alert delivery to %s failed (attempt %d of %d), retrying in %.1fs: %s",
                self.kind,
                state.attempt_number,
                self._attempts,
                wait,
                REDACTOR.scrub(str(exc)),
                extra=_fields(self.kind, alert),
            )

        return before_sleep


def _fields(kind: str, alert: Alert) -> dict[str, str]:
    return {
        "destination": kind,
        "alert_key": alert.key,
        "alert_status": alert.status,
        "rule": alert.rule,
        "source_id": alert.source_id,
        "log_type": alert.log_type,
    }
