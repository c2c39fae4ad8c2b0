"""Alert rules and their lifecycle, evaluated after every poll of a source and log type.

Rules: *no_events* (nothing new landed for `no_events_after_seconds`), *source_failing*
(a permanent error at once, transient ones after `failing_after_failures` polls in a row),
*quarantine* (a poll quarantined at least `quarantine_threshold` records). Each alert fires
once, repeats at most every `renotify_seconds` while true, and resolves when it is no
longer true. Alert state lives in the state store, so a restart neither re-fires nor
forgets an open alert.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from connector import clock
from connector.alerts.base import Alert, Status
from connector.alerts.severity import Severity
from connector.state import StateStore

log = logging.getLogger(__name__)


class Counts(Protocol):
    @property
    def quarantined(self) -> int: ...


class Outcome(Protocol):
    """What the rules read of a poll's outcome (`connector.service.runner.Outcome`): named here, so
    alerting depends on no part of the daemon that runs the polls."""

    @property
    def source_id(self) -> str: ...
    @property
    def log_type(self) -> str: ...
    @property
    def state(self) -> str: ...
    @property
    def detail(self) -> str: ...
    @property
    def result(self) -> Counts | None: ...


HINTS = {
    "no_events": (
        "Check that the app is still installed, the installing user is active and the token "
        "was not revoked or rotated; run `slack-connector check`."
    ),
    "source_failing": (
        "Permanent errors (invalid_auth, token_revoked, missing_scope, paid_only) need a new "
        "token or scope: reinstall the app or run `slack-connector auth`, then `check`."
    ),
    "quarantine": "Look under {prefix}/_quarantine/ for the records and their validation errors.",
}


SEVERITY: dict[str, Severity] = {
    "no_events": "medium",
    "source_failing": "high",
    "quarantine": "low",
}
"""A source that stopped working is blind spot now (`high`); one that went quiet may be a
quiet weekend (`medium`); quarantined records are kept and can be replayed (`low`)."""


@dataclass(frozen=True)
class Thresholds:
    no_events_after_seconds: int = 86_400
    failing_after_failures: int = 3
    quarantine_threshold: int = 1
    renotify_seconds: int = 14_400


@dataclass(frozen=True)
class Condition:
    rule: str
    active: bool
    summary: str = ""
    detail: str = ""
    since: int = 0


class AlertRules:
    def __init__(
        self,
        store: StateStore,
        submit: Callable[[Alert], None],
        thresholds: Callable[[str, str], Thresholds],
        labels: dict[str, str],
    ) -> None:
        self._store = store
        self._submit = submit
        self._thresholds = thresholds
        self._labels = labels

    def evaluate(self, outcome: Outcome) -> list[Alert]:
        if outcome.state == "stopped":
            return []
        th = self._thresholds(outcome.source_id, outcome.log_type)
        status = self._store.status(outcome.source_id, outcome.log_type) or {}
        sent = []
        for condition in self._conditions(outcome, status, th):
            alert = self._transition(outcome, condition, th)
            if alert is not None:
                self._submit(alert)
                sent.append(alert)
        return sent

    def _conditions(
        self, outcome: Outcome, status: dict[str, Any], th: Thresholds
    ) -> list[Condition]:
        now = clock.now_ts()
        what = f"{outcome.source_id} {outcome.log_type}"
        conditions = []
        if th.no_events_after_seconds > 0:
            last = int(status.get("last_event") or status.get("first_poll") or now)
            quiet = now - last
            conditions.append(
                Condition(
                    "no_events",
                    quiet >= th.no_events_after_seconds,
                    f"No new {outcome.log_type} events from {what} for {_duration(quiet)}",
                    f"Nothing new has landed since {clock.rfc3339(last)}; "
                    f"the threshold is {_duration(th.no_events_after_seconds)}.",
                    last,
                )
            )
        failures = int(status.get("failures", 0))
        failing = outcome.state == "parked" or (
            outcome.state == "failing" and failures >= th.failing_after_failures
        )
        conditions.append(
            Condition(
                "source_failing",
                failing,
                f"{what} is {'parked' if outcome.state == 'parked' else 'failing'}",
                f"{outcome.detail} ({failures} failed polls in a row)",
                int(status.get("since") or now),
            )
        )
        if th.quarantine_threshold > 0 and outcome.result is not None:
            count = outcome.result.quarantined
            conditions.append(
                Condition(
                    "quarantine",
                    count >= th.quarantine_threshold,
                    f"{count} {outcome.log_type} records from {what} failed validation",
                    f"{count} records were quarantined in the last poll "
                    f"({status.get('quarantined_total', count)} in total).",
                    now,
                )
            )
        return conditions

    def _transition(self, outcome: Outcome, cond: Condition, th: Thresholds) -> Alert | None:
        key = f"{outcome.source_id}:{outcome.log_type}:{cond.rule}"
        state = self._store.alert(key) or {}
        prior = str(state.get("summary") or cond.rule)
        now = clock.now_ts()
        status: Status | None = None
        if cond.active and not state.get("open"):
            status, state = (
                "trigger",
                {"open": True, "since": cond.since, "last_sent": now, "summary": cond.summary},
            )
        elif cond.active and now - int(state.get("last_sent", 0)) >= th.renotify_seconds:
            status, state = "renotify", {**state, "last_sent": now, "summary": cond.summary}
        elif not cond.active and state.get("open"):
            status, state = (
                "resolve",
                {"open": False, "since": state.get("since"), "last_sent": now, "summary": prior},
            )
        if status is None:
            return None
        self._store.set_alert(key, state)
        alert = Alert(
            key=key,
            rule=cond.rule,
            status=status,
            source_id=outcome.source_id,
            source_label=self._labels.get(outcome.source_id, outcome.source_id),
            log_type=outcome.log_type,
            summary=cond.summary if status != "resolve" else f"Resolved: {prior}",
            detail=cond.detail if status != "resolve" else "The condition no longer holds.",
            since=int(state.get("since") or cond.since),
            hint=HINTS[cond.rule],
            severity=SEVERITY[cond.rule],
        )
        log.warning(
            "alert", extra={"alert_key": key, "alert_status": status, "summary": alert.summary}
        )
        return alert


def _duration(seconds: int) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 60:
        return f"{seconds // 60} min"
    return f"{seconds} s"
