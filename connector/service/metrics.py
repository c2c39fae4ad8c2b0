"""Prometheus metrics. Labels are source ids, log types, Slack method names and status
codes: never tokens, URLs or anything else a secret could hide in."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from connector.alerts.base import Alert
from connector.service.runner import Outcome

SL = ("source_id", "log_type")


class Metrics:
    """One registry per App, so tests (and embedders) can run several side by side."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self._leases: Gauge | None = None
        self._rounds: Histogram | None = None
        self.fetched = Counter("slack_connector_events_fetched", "Records fetched", SL, registry=r)
        self.landed = Counter("slack_connector_events_landed", "Events written", SL, registry=r)
        self.deduped = Counter(
            "slack_connector_events_deduped", "Duplicates skipped", SL, registry=r
        )
        self.quarantined = Counter(
            "slack_connector_events_quarantined", "Records quarantined", SL, registry=r
        )
        self.bytes = Counter(
            "slack_connector_bytes_written", "Compressed bytes written", SL, registry=r
        )
        self.objects = Counter("slack_connector_objects_written", "Objects written", SL, registry=r)
        self.derived = Counter(
            "slack_connector_derived_events",
            "Events in derived objects, per output and kind (e.g. ocsf:authentication)",
            (*SL, "output"),
            registry=r,
        )
        self.polls = Counter(
            "slack_connector_polls", "Polls by outcome", (*SL, "state"), registry=r
        )
        self.skipped = Counter(
            "slack_connector_polls_skipped",
            "Scheduled polls skipped because the previous one was still running",
            SL,
            registry=r,
        )
        self.duration = Histogram(
            "slack_connector_poll_duration_seconds",
            "Poll duration",
            SL,
            registry=r,
            buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900),
        )
        self.last_success = Gauge(
            "slack_connector_last_success_timestamp_seconds", "Last successful poll", SL, registry=r
        )
        self.last_event = Gauge(
            "slack_connector_last_event_timestamp_seconds",
            "Last poll that landed events",
            SL,
            registry=r,
        )
        self.requests = Counter(
            "slack_connector_api_requests",
            "Slack API requests",
            ("source_id", "method", "status"),
            registry=r,
        )
        self.rate_limited = Counter(
            "slack_connector_rate_limited", "HTTP 429 answers", ("source_id", "method"), registry=r
        )
        self.retry_after = Counter(
            "slack_connector_retry_after_seconds",
            "Seconds waited for Retry-After",
            ("source_id", "method"),
            registry=r,
        )
        self.open_alerts = Gauge(
            "slack_connector_open_alerts", "Open alerts", ("rule",), registry=r
        )
        self.workspace = Gauge(
            "slack_connector_workspace",
            "1 for each workspace an Enterprise Grid source polls (team_ids)",
            ("source_id", "team_id"),
            registry=r,
        )
        self.anomalies = Counter(
            "slack_connector_anomalies",
            "Slack anomaly events by what became of them: alerted (a new alert), grouped (into "
            "a user's open burst), suppressed (trusted network), repeated (already alerted), "
            "expired (older than the marks kept)",
            ("source_id", "outcome"),
            registry=r,
        )
        self.alerts_sent = Counter(
            "slack_connector_alert_deliveries",
            "Alert deliveries",
            ("destination", "status", "ok"),
            registry=r,
        )

    def leases_held(self, replica_id: str, count: Callable[[], float]) -> None:
        """Leases this replica holds, read at scrape time. Registered on first use, so a
        single-process store shows no lease metric, and only once, so a second `claim`
        does not register a duplicate time series."""
        if self._leases is None:
            self._leases = Gauge(
                "slack_connector_leases_held",
                "Leases (source, log type) held by this replica",
                ("replica",),
                registry=self.registry,
            )
        self._leases.labels(replica_id).set_function(count)

    def lease_round(self, late: float) -> None:
        """How long after it was due each lease renewal round finished (0 when on
        time); a round later than `renew_seconds` is also logged. Registered on the first
        round, so only a replica sharing a store has it."""
        if self._rounds is None:
            self._rounds = Histogram(
                "slack_connector_lease_round_seconds",
                "How late each lease renewal round finished, after it was due",
                registry=self.registry,
                buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10),
            )
        self._rounds.observe(late)

    def poll(self, outcome: Outcome, seconds: float, now: float) -> None:
        labels = (outcome.source_id, outcome.log_type)
        self.polls.labels(*labels, outcome.state).inc()
        self.duration.labels(*labels).observe(seconds)
        r = outcome.result
        if r is None:
            return
        self.fetched.labels(*labels).inc(r.fetched)
        self.landed.labels(*labels).inc(r.written)
        self.deduped.labels(*labels).inc(r.duplicates)
        self.quarantined.labels(*labels).inc(r.quarantined)
        self.bytes.labels(*labels).inc(r.bytes)
        self.objects.labels(*labels).inc(r.objects)
        for output, n in r.derived.items():
            self.derived.labels(*labels, output).inc(n)
        self.last_success.labels(*labels).set(now)
        if r.written:
            self.last_event.labels(*labels).set(now)

    def request(self, source_id: str, method: str, status: str, retry_after: float = 0) -> None:
        self.requests.labels(source_id, method, status).inc()
        if status == "429":
            self.rate_limited.labels(source_id, method).inc()
            self.retry_after.labels(source_id, method).inc(retry_after)

    def workspaces(self, source_id: str, teams: list[str]) -> None:
        """The workspaces polled now; one no longer listed leaves the metric."""
        for labels in list(self.workspace._metrics):
            if labels[0] == source_id and labels[1] not in teams:
                self.workspace.remove(*labels)
        for team in teams:
            self.workspace.labels(source_id, team).set(1)

    def anomaly(self, source_id: str, outcome: str, count: int) -> None:
        self.anomalies.labels(source_id, outcome).inc(count)

    def delivery(self, destination: str, alert: Alert, ok: bool) -> None:
        self.alerts_sent.labels(destination, alert.status, str(ok).lower()).inc()

    def set_open_alerts(self, keys: list[str]) -> None:
        for rule in ("no_events", "source_failing", "quarantine"):
            self.open_alerts.labels(rule).set(sum(1 for k in keys if k.endswith(f":{rule}")))
