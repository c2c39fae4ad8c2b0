"""Wires Settings into the running parts: state store, sink, pipeline, one runner per source."""

from __future__ import annotations

import threading
from collections.abc import Iterator

from connector.config import Settings
from connector.logtypes import REGISTRY
from connector.pipeline import BatchLimits, Pipeline
from connector.runner import Outcome, SourceRunner
from connector.sinks import build
from connector.sinks.base import Sink, SinkError
from connector.slack.errors import SlackError
from connector.slack.ratelimit import RateBudgets
from connector.state.sqlite import StateStore


class App:
    def __init__(self, settings: Settings, *, sink: Sink | None = None) -> None:
        self.settings = settings
        self.stop = threading.Event()
        self.store = StateStore(settings.state.path, timeout=settings.state.busy_timeout_seconds)
        self.sink = sink or build(settings.output)
        out = settings.output
        self.pipeline = Pipeline(
            self.store,
            self.sink,
            BatchLimits(out.prefix, out.batch_max_events, out.batch_max_bytes),
        )
        budgets = RateBudgets()
        self.runners = {
            s.id: SourceRunner(s, self.pipeline, budgets, self.stop) for s in settings.sources
        }

    def jobs(self) -> Iterator[tuple[SourceRunner, str]]:
        for runner in self.runners.values():
            for log_type in runner.cfg.log_types:
                yield runner, log_type

    def poll(self, source_id: str, log_type: str) -> Outcome:
        return self.runners[source_id].poll(log_type)

    def once(self) -> list[Outcome]:
        """Every source and log type once, parked ones included: an operator asked for it."""
        return [runner.poll(lt, force=True) for runner, lt in self.jobs()]

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

    def close(self) -> None:
        self.stop.set()
        for runner in self.runners.values():
            runner.close()
        self.sink.close()
        self.store.close()
