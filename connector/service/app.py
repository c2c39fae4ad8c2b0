"""Wires Settings into the running parts: state store, sink, pipeline, one runner per
source, alert rules and their dispatcher, metrics, and the health server."""

from __future__ import annotations

import gc
import logging
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import httpx

from connector import clock
from connector.alerts import destinations
from connector.alerts.dispatch import Dispatcher
from connector.alerts.rules import AlertRules, Thresholds
from connector.budget import limit_malloc_arenas
from connector.config.settings import Settings
from connector.detections.anomalies import AnomalyAlerts
from connector.detections.catalog import Catalog
from connector.indicators.match import Indicator
from connector.logtypes import REGISTRY
from connector.service.health import HealthServer
from connector.service.metrics import Metrics
from connector.service.pipeline_setup import build_pipeline
from connector.service.readiness import BackgroundCheck
from connector.service.runner import Outcome, SourceRunner
from connector.service.workspaces import Workspaces
from connector.sinks import build
from connector.sinks.base import Sink, SinkError
from connector.slack import catalog as slack_catalog
from connector.slack.ratelimit import RateBudgets
from connector.state import StateError
from connector.watchlist.watchlist import Watchlist

if TYPE_CHECKING:  # DuckDB (54 MB resident) and slack_sdk (11 MB) load when first used
    from connector.search.query import Searcher
    from connector.search.results import Found
    from connector.search.worker import SearchWorkers
    from connector.slackapp.slash_server import SlashServer

log = logging.getLogger(__name__)


def tune_interpreter() -> None:
    """Settings for a process that moves millions of records through a few threads.

    Parsed Slack pages are millions of short-lived dicts with no reference cycles; the
    default collector thresholds spend about a third of the CPU walking them. Everything
    alive at start-up is frozen out of collection and full collections become rare.

    The compressor and batch-writer threads release the GIL for every zlib call, SQLite
    statement and file operation, and with the default 5 ms switch interval each of them
    then waited up to 5 ms to get it back from the poll thread: the writer fell behind and
    the poll waited for it (15 % of its time). At 1 ms they keep up.

    Threads share two malloc arenas (`budget.limit_malloc_arenas`).
    """
    limit_malloc_arenas()
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
        alerts = settings.alerts
        self.dispatcher = Dispatcher(
            [destinations.build(d) for d in alerts.destinations],
            attempts=alerts.delivery_attempts,
            on_result=self.metrics.delivery,
        )
        self.watchlist = Watchlist(settings.watchlist, self.store, self.dispatcher.submit)
        self.anomalies = AnomalyAlerts(
            settings.detections.anomaly, self.store, self.dispatcher.submit, self.metrics.anomaly
        )
        self._catalog_http = httpx.Client(timeout=30.0, follow_redirects=False)
        self.catalog = self._catalog(settings)
        self.pipeline = build_pipeline(
            settings,
            self.store,
            self.sink,
            [self.watchlist, self.anomalies, *([self.catalog] if self.catalog else [])],
        )
        budgets = RateBudgets()
        self.runners = {
            s.id: SourceRunner(
                s, self.pipeline, budgets, self.stop, self.metrics.request, settings.state
            )
            for s in settings.sources
        }
        self.workspaces = {
            s.id: Workspaces(s, self.store, self.runners[s.id].client)
            for s in settings.sources
            if s.team_ids is not None
        }
        self.rules = AlertRules(
            self.store,
            self.dispatcher.submit,
            self.thresholds,
            {s.id: s.display_label for s in settings.sources},
        )
        self.health: HealthServer | None = None
        self.checks: list[BackgroundCheck] = []
        self.in_flight = InFlight()
        self.slash: SlashServer | None = None
        self._searcher: Searcher | None = None
        self._workers: SearchWorkers | None = None

    def _catalog(self, settings: Settings) -> Catalog | None:
        """Slack's lists of audit actions, read from the first source that reads audit
        logs (the lists are Slack's, the same for every organisation)."""
        audit = next((s for s in settings.sources if "audit" in s.log_types), None)
        if audit is None or not settings.detections.catalog.enabled:
            return None
        url, http = audit.audit_api_url, self._catalog_http
        return Catalog(
            settings.detections.catalog,
            self.store,
            self.dispatcher.submit,
            lambda: slack_catalog.fetch(http, url),
            (audit.id, audit.display_label),
        )

    def refresh_catalog(self, *, force: bool = False) -> None:
        """Slack's action lists, when a day has passed: at start and hourly after."""
        if self.catalog is None:
            return
        try:
            self.catalog.refresh(force=force)
        except StateError as exc:
            log.error("catalog state unavailable", extra={"error": str(exc)})

    def thresholds(self, source_id: str, log_type: str) -> Thresholds:
        alerts = self.settings.alerts
        quiet = REGISTRY[log_type].quiet_after
        for setting in (
            alerts.no_events_after_seconds,
            self.runners[source_id.split("@")[0]].cfg.no_events_after_seconds,
        ):
            value = setting.get(log_type) if isinstance(setting, dict) else setting
            quiet = quiet if value is None else value
        return Thresholds(
            no_events_after_seconds=quiet,
            failing_after_failures=alerts.failing_after_failures,
            quarantine_threshold=alerts.quarantine_threshold,
            renotify_seconds=alerts.renotify_seconds,
        )

    def jobs(self) -> Iterator[tuple[SourceRunner, str]]:
        for runner in self.runners.values():
            for log_type in runner.cfg.log_types:
                yield runner, log_type

    def streams(self) -> list[tuple[str, str]]:
        """Every (stream, log type) this process may poll: a source's, or with `team_ids`
        each known workspace's (`acme@T0123`)."""
        out = []
        for runner, log_type in self.jobs():
            if log_type in runner.cfg.per_workspace:
                teams = self.workspaces[runner.cfg.id].known()
                out += [(f"{runner.cfg.id}@{team}", log_type) for team in sorted(teams)]
            else:
                out.append((runner.cfg.id, log_type))
        return out

    def claim(
        self,
        *,
        everything: bool = False,
        on_taken: Callable[[tuple[str, str]], None] | None = None,
    ) -> None:
        """With a shared store, take this replica's share of the streams (leases)."""
        for ws in self.workspaces.values():
            ws.current()

        def taken(stream: tuple[str, str]) -> None:
            """A workspace's lease moves its source's job forward."""
            if on_taken is not None:
                on_taken((stream[0].split("@")[0], stream[1]))

        self.store.claim(
            self.streams(), everything=everything, on_taken=taken, on_round=self.metrics.lease_round
        )
        if self.store.shared:
            self.metrics.leases_held(self.store.replica_id, self.store.leases_held)

    def poll(self, source_id: str, log_type: str, *, force: bool = False) -> Outcome:
        """One poll (of every workspace, with `team_ids`), then metrics and alert rules;
        the scheduler's job function.

        With replicas, a stream whose lease another replica holds is left to it, and a
        poll that lost its lease halfway is not this replica's failure to alert on."""
        return combined(source_id, log_type, self.poll_streams(source_id, log_type, force=force))

    def poll_streams(self, source_id: str, log_type: str, *, force: bool = False) -> list[Outcome]:
        runner = self.runners[source_id]
        with self.in_flight:
            if log_type not in runner.cfg.per_workspace:
                return [self._poll(runner, source_id, log_type, force, None)]
            teams = self._teams(runner, log_type)
            if not teams:
                failed = Outcome(source_id, log_type, "failing", self.workspaces[source_id].empty())
                self._evaluate(failed)
                return [failed]
            return [self._poll(runner, f"{source_id}@{t}", log_type, force, t) for t in teams]

    def _teams(self, runner: SourceRunner, log_type: str) -> list[str]:
        """The workspaces to poll now; new ones get leases (a shared store)."""
        ws = self.workspaces[runner.cfg.id]
        before = set(ws.known())
        teams = sorted(ws.current())
        self.metrics.workspaces(runner.cfg.id, teams)
        new = [
            (f"{runner.cfg.id}@{t}", lt)
            for t in teams
            if t not in before
            for lt in runner.cfg.per_workspace
        ]
        if new:
            self.store.add_streams(new)
        return teams

    def _poll(
        self, runner: SourceRunner, stream: str, log_type: str, force: bool, team: str | None
    ) -> Outcome:
        with self.store.polling(stream, log_type) as mine:
            if not mine:
                return Outcome(stream, log_type, "standby")
            outcome = runner.poll(log_type, force=force, team_id=team)
        if not outcome.ok and not self.store.owns(stream, log_type):
            outcome.state = "lease_lost"
            self.metrics.poll(outcome, outcome.seconds, clock.now_ts())
            return outcome
        self._evaluate(outcome)
        return outcome

    def _evaluate(self, outcome: Outcome) -> None:
        self.metrics.poll(outcome, outcome.seconds, clock.now_ts())
        try:
            self.rules.evaluate(outcome)
            self.metrics.set_open_alerts(list(self.store.open_alerts()))
        except StateError as exc:
            log.error("alert state unavailable", extra={"error": str(exc)})

    def once(self) -> list[Outcome]:
        """Every source and log type once, parked ones included: an operator asked for it.
        With replicas, only the streams this process could take a lease on."""
        self.claim(everything=True)
        self.refresh_catalog()
        return [
            outcome
            for runner, lt in self.jobs()
            for outcome in self.poll_streams(runner.cfg.id, lt, force=True)
        ]

    def start_health(self) -> HealthServer | None:
        cfg = self.settings.metrics
        daemon = self.settings.daemon
        self.checks = [
            BackgroundCheck(
                name,
                check,
                interval=daemon.sink_check_seconds,
                timeout=daemon.sink_check_timeout_seconds,
                expected=(SinkError, StateError),
            ).start()
            for name, check in (("state", self.store.ping), ("sink", self.sink.check))
        ]
        if cfg.enabled:
            self.health = HealthServer(
                cfg.address, cfg.port, self.metrics.registry, self.live, self.ready
            ).start()
        return self.health

    def start_slash(self) -> SlashServer | None:
        """The `/seclogs` endpoint, when `[slash_command] enabled`; OSError if it cannot listen."""
        slash = self.settings.slash_command
        if slash.enabled:
            from connector.search.worker import SearchWorkers
            from connector.slackapp.slash_server import SlashServer

            if slash.search_processes and self.settings.output.type != "stdout":
                self._workers = SearchWorkers(
                    self.settings.output, slash.search_processes, slash.search_deadline_seconds
                )
            self.slash = SlashServer(
                self.settings.slash_command, self.watchlist, self.search
            ).start()
        return self.slash

    def search(self, indicators: Sequence[Indicator]) -> Found:
        """A slash command's search: in a worker process (`search.worker`), or on the
        command server's worker thread over a warm connection when `search_processes = 0`."""
        from connector.search.query import Searcher
        from connector.search.results import Window

        slash = self.settings.slash_command
        if self._workers is not None:
            return self._workers.find(indicators, Window.last(), slash.search_limit)
        if self._searcher is None:
            self._searcher = Searcher(self.settings.output)
        return self._searcher.find(indicators, Window.last(), limit=slash.search_limit)

    def live(self) -> tuple[bool, dict[str, Any]]:
        return self.scheduler_running and not self.stop.is_set(), {
            "scheduler": self.scheduler_running
        }

    def ready(self) -> tuple[bool, dict[str, Any]]:
        """From the background checks' last answers: a probe never waits on S3 or SQLite."""
        detail: dict[str, Any] = {"config": True}
        for check in self.checks:
            ok, error = check.state()
            detail[check.name] = ok
            if error:
                detail[f"{check.name}_error"] = error
        return all(detail[c.name] for c in self.checks), detail

    def close(self, grace: float = 30.0) -> None:
        """Release everything; alert delivery gets at most `grace` seconds to finish."""
        self.abandon(grace)
        for runner in self.runners.values():
            runner.close()
        self._catalog_http.close()
        self.sink.close()
        self.store.close()

    def abandon(self, grace: float) -> None:
        """Stop serving and deliver queued alerts, but leave the state store and sink to a
        poll that is still running: the process is about to end without it."""
        self.stop.set()
        if self.health:
            self.health.stop()
        if self.slash:
            self.slash.stop()
        if self._workers:
            self._workers.close()
        for check in self.checks:
            check.stop()
        self.dispatcher.close(grace)


def combined(source_id: str, log_type: str, outcomes: list[Outcome]) -> Outcome:
    """One outcome for a job that polled several workspaces: the first that went wrong,
    else the first (each stream's own went to metrics and alert rules already)."""
    if len(outcomes) == 1:
        return outcomes[0]
    bad = [o for o in outcomes if not o.ok and o.state != "standby"]
    if bad:
        return bad[0]
    ok = [o for o in outcomes if o.ok]
    return ok[0] if ok else Outcome(source_id, log_type, "standby")


class InFlight:
    """Counts running polls, so shutdown knows what it waits for and can stop waiting."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._count = 0

    def __enter__(self) -> None:
        with self._cond:
            self._count += 1

    def __exit__(self, *_: object) -> None:
        with self._cond:
            self._count -= 1
            self._cond.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no poll runs; False when some still do after `timeout`."""
        with self._cond:
            return self._cond.wait_for(lambda: self._count == 0, timeout)
