"""Whether the sink and the state store are reachable, kept by background threads so
probes never wait on either.

An S3 endpoint that accepts connections and never answers would hold a probe for as long
as boto3's timeouts allow; Kubernetes then sees a probe that times out instead of a 503.
Here a daemon thread per dependency checks it every `interval` seconds and the probe reads
what it found: the last answer, or "not ready" when the check in flight has taken longer
than `timeout`. Ready only after a check succeeded.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class BackgroundCheck:
    def __init__(
        self,
        name: str,
        check: Callable[[], object],
        *,
        interval: float,
        timeout: float,
        expected: tuple[type[Exception], ...] = (),
    ) -> None:
        """`expected` errors are reported with their message (written to be shown);
        anything else only by type, since its text may hold something private."""
        self.name = name
        self._check = check
        self._expected = expected
        self._interval = interval
        self._timeout = timeout
        self._lock = threading.Lock()
        self._ok = False
        self._error = "not checked yet"
        self._started: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"check-{name}", daemon=True)

    def start(self) -> BackgroundCheck:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Returns at once: a check stuck on the network is abandoned (a daemon thread)."""
        self._stop.set()

    def state(self) -> tuple[bool, str]:
        """(reachable, why not) from the last check, without waiting for one."""
        with self._lock:
            started, ok, error = self._started, self._ok, self._error
        if started is not None and time.monotonic() - started > self._timeout:
            waited = time.monotonic() - started
            return False, f"{self.name} check has not answered for {waited:.0f}s"
        return ok, error

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                self._started = time.monotonic()
            try:
                self._check()
                ok, error = True, ""
            except Exception as exc:  # noqa: BLE001 - a failed check is a failed check
                known = isinstance(exc, self._expected)
                ok, error = (
                    False,
                    str(exc) if known else f"{self.name} check failed ({type(exc).__name__})",
                )
            with self._lock:
                self._started, self._ok, self._error = None, ok, error
            self._stop.wait(self._interval)
