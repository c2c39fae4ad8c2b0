"""Wires Settings into the running parts: state store, sink, pipeline, one runner per
source, alert rules and their dispatcher, metrics, and the health server."""

from __future__ import annotations

import gc
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from connector import clock
from connector.alerts import destinations
from connector.alerts.dispatch import Dispatcher
from connector.alerts.rules import AlertRules, Thresholds
from connector.config import Settings
from connector.health import HealthServer
from connector.logtypes import REGISTRY
from connector.metrics import Metrics
from connector.pipeline import BatchLimits, Pipeline
from connector.runner import Outcome, SourceRunner
from connector.sinks import build
from connector.sinks.base import Sink, SinkError
from connector.slack.errors import SlackError
from connector.slack.ratelimit import RateBudgets
from connector.state import StateError

log = logging.getLogger(__name__)
SINK_CHECK_SECONDS = 30.0


def tune_interpreter() -> None:
    """Settings for a process that moves millions of records through a few threads.

    Parsed Slack pages are millions of short-lived dicts with no reference cycles; the
    default collector thresholds spend about a third of the CPU walking them. Everything
    alive at start-up is frozen out of collection and full collections become rare.

    The compressor and batch-writer threads release the GIL for every zlib call, SQLite
    statement and file operation, and with the default 5 ms switch interval each of them
    then waited up to 5 ms to get it back from the poll thread: the writer fell behind and
    the poll waited for it (15 % of its time). At 1 ms they keep up.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)
    sys.setswitchinterval(0.001)


class App:
    def __init__(self, settings: Settings, *, sink: Sink | None = None) -> None:
        self.settings = settings
        self.stop = threading.Event()
        self.scheduler_running = False
        self.store = settings.state.open()
        self.sink = sink or build(settings.output)
        self.metrics = Metrics()
        out = settings.output
        self.pipeline = Pipeline(
            self.store,
            self.sink,
            BatchLimits(out.prefix, out.batch_max_events, out.batch_max_bytes),
        )
        budgets = RateBudgets()
        self.runners = {
            s.id: SourceRunner(
                s, self.pipeline, budgets, self.stop, self.metrics.request, settings.state
            )
            for s in settings.sources
        }
        alerts = settings.alerts
        self.dispatcher = Dispatcher(
            [destinations.build(d) for d in alerts.destinations],
            attempts=alerts.delivery_attempts,
            on_result=self.metrics.delivery,
        )
        self.rules = AlertRules(
            self.store,
            self.dispatcher.submit,
            self.thresholds,
            {s.id: s.display_label for s in settings.sources},
        )
        self.health: HealthServer | None = None
        self._sink_ok: tuple[float, bool, str] = (0.0, False, "")

    def thresholds(self, source_id: str, log_type: str) -> Thresholds:
        alerts = self.settings.alerts
        quiet: Any = self.runners[source_id].cfg.no_events_after_seconds
        if isinstance(quiet, dict):
            quiet = quiet.get(log_type)
        return Thresholds(
            no_events_after_seconds=alerts.no_events_after_seconds if quiet is None else quiet,
            failing_after_failures=alerts.failing_after_failures,
            quarantine_threshold=alerts.quarantine_threshold,
            renotify_seconds=alerts.renotify_seconds,
        )

    def jobs(self) -> Iterator[tuple[SourceRunner, str]]:
        for runner in self.runners.values():
            for log_type in runner.cfg.log_types:
                yield runner, log_type

    def claim(
        self,
        *,
        everything: bool = False,
        on_taken: Callable[[tuple[str, str]], None] | None = None,
    ) -> None:
        """With a shared store, take this replica's share of the streams (leases)."""
        streams = [(runner.cfg.id, lt) for runner, lt in self.jobs()]
        self.store.claim(streams, everything=everything, on_taken=on_taken)
        if self.store.shared:
            self.metrics.leases_held(self.store.replica_id, self.store.leases_held)

    def poll(self, source_id: str, log_type: str, *, force: bool = False) -> Outcome:
        """One poll, then metrics and alert rules; the scheduler's job function.

        With replicas, a stream whose lease another replica holds is left to it, and a
        poll that lost its lease halfway is not this replica's failure to alert on."""
        with self.store.polling(source_id, log_type) as mine:
            if not mine:
                return Outcome(source_id, log_type, "standby")
            outcome = self.runners[source_id].poll(log_type, force=force)
        if not outcome.ok and not self.store.owns(source_id, log_type):
            outcome.state = "lease_lost"
            self.metrics.poll(outcome, outcome.seconds, clock.now_ts())
            return outcome
        self.metrics.poll(outcome, outcome.seconds, clock.now_ts())
        try:
            self.rules.evaluate(outcome)
            self.metrics.set_open_alerts(list(self.store.open_alerts()))
        except StateError as exc:
            log.error("alert state unavailable", extra={"error": str(exc)})
        return outcome

    def once(self) -> list[Outcome]:
        """Every source and log type once, parked ones included: an operator asked for it.
        With replicas, only the streams this process could take a lease on."""
        self.claim(everything=True)
        return [self.poll(runner.cfg.id, lt, force=True) for runner, lt in self.jobs()]

    def check(self) -> list[tuple[str, bool, str]]:
        """Sink reachable, then one authenticated call per source and log type."""
        lines: list[tuple[str, bool, str]] = []
        try:
            lines.append((f"output {self.settings.output.type}", True, self.sink.check()))
        except SinkError as exc:
            lines.append((f"output {self.settings.output.type}", False, str(exc)))
        for runner, log_type in self.jobs():
            name = f"source {runner.cfg.id} {log_type}"
            try:
                lines.append((name, True, REGISTRY[log_type]().probe(runner.client())))
            except SlackError as exc:
                lines.append((name, False, f"{type(exc).__name__}: {exc.detail}"))
            except Exception as exc:  # noqa: BLE001 - check reports every failure, one per line
                lines.append((name, False, str(exc)))
        return lines

    def start_health(self) -> HealthServer | None:
        cfg = self.settings.metrics
        if cfg.enabled:
            self.health = HealthServer(
                cfg.address, cfg.port, self.metrics.registry, self.live, self.ready
            ).start()
        return self.health

    def live(self) -> tuple[bool, dict[str, Any]]:
        return self.scheduler_running and not self.stop.is_set(), {
            "scheduler": self.scheduler_running
        }

    def ready(self) -> tuple[bool, dict[str, Any]]:
        detail: dict[str, Any] = {"config": True}
        try:
            self.store.ping()
            detail["state"] = True
        except StateError as exc:
            detail["state"] = False
            detail["state_error"] = str(exc)
        checked_at, sink_ok, sink_error = self._sink_ok
        if time.monotonic() - checked_at > SINK_CHECK_SECONDS:
            try:
                self.sink.check()
                sink_ok, sink_error = True, ""
            except SinkError as exc:
                sink_ok, sink_error = False, str(exc)
            self._sink_ok = (time.monotonic(), sink_ok, sink_error)
        detail["sink"] = sink_ok
        if sink_error:
            detail["sink_error"] = sink_error
        return bool(detail["state"] and sink_ok), detail

    def close(self) -> None:
        self.stop.set()
        if self.health:
            self.health.stop()
        self.dispatcher.close()
        for runner in self.runners.values():
            runner.close()
        self.sink.close()
        self.store.close()
