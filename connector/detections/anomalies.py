"""`slack_anomaly`: every anomaly event Slack records raises an alert in the poll that
lands it, sent when that poll ends.

The pipeline shows each page's newly written audit rows (`connector.ingest.pipeline.Observer`);
only lines holding `"anomaly"` are parsed. Each anomaly is marked in the state store
before anything is sent (`StateStore.mark_detection`, set once across replicas), so a
re-read overlap, a restart or a second replica never alerts on it again. Marks live in
the detections' namespace, never read with the open alerts, and are pruned
`retention_seconds` (by event time) behind the newest anomaly. A crash between the mark
and the end of the poll loses those alerts rather than repeating them; the events
themselves are in the logs either way.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

import orjson

from connector import clock
from connector.alerts.base import Alert
from connector.config.detections import AnomalyConfig
from connector.detections.anomaly import Anomaly, iso_micros, parse
from connector.detections.grouping import Change, Group, fold
from connector.detections.reasons import SeverityMap
from connector.detections.trusted import TrustedNetworks
from connector.state import StateStore

log = logging.getLogger(__name__)

RULE = "slack_anomaly"
LOG_TYPE = "audit"
_NEEDLE = b'"anomaly"'
PRUNED = "detections:anomaly:pruned"
"""Marks of anomalies before `before` (epoch seconds) were forgotten."""
Count = Callable[[str, str, int], None]
"""(source id, outcome, how many): `alerted`, `grouped`, `suppressed`, `repeated` or
`expired` (older than the marks kept)."""


class _Held:
    """One source's alerts of the poll under way: the groups it opened or escalated (sent
    when the poll ends, with every anomaly the poll added to them) and the ones a later
    group of the same user replaced within the poll."""

    def __init__(self) -> None:
        self.open: dict[str, tuple[Group, Change, Anomaly]] = {}
        self.closed: list[Alert] = []
        self.newest = 0
        """Epoch seconds of the newest anomaly marked, which bounds the marks pruned."""


class AnomalyAlerts:
    def __init__(
        self,
        cfg: AnomalyConfig,
        store: StateStore,
        submit: Callable[[Alert], None],
        count: Count | None = None,
    ) -> None:
        self.cfg = cfg
        self._store = store
        self._submit = submit
        self._count = count or (lambda *_: None)
        self.severity = SeverityMap(cfg.severity)
        self.trusted = TrustedNetworks(cfg.trusted_cidrs, cfg.trusted_asns)
        self._window = cfg.group_seconds * 1_000_000
        self._held: dict[str, _Held] = {}
        self._lock = threading.Lock()

    def watch(self, source_id: str, log_type: str) -> Callable[[list[bytes]], int] | None:
        return self.scan if self.cfg.enabled and log_type == LOG_TYPE else None

    def scan(self, lines: Sequence[bytes]) -> int:
        """Mark and group the anomalies among one page's written rows; returns how many
        were new. Their alerts go out when the poll ends (`poll_done`), so a burst spread
        over the poll's pages is one alert with its whole count."""
        found = [a for line in lines if _NEEDLE in line if (a := parse(orjson.loads(line)))]
        if not found:
            return 0
        pruned = int((self._store.detection_value(PRUNED) or {}).get("before", 0))
        fresh = [a for a in found if self._first_sighting(a, pruned)]
        for anomaly in sorted(fresh, key=lambda a: a.micros):
            self._fold(anomaly)
        return len(fresh)

    def prune(self, newest: int) -> int:
        """Forget the marks of anomalies older than `retention_seconds` before the newest
        one landed (Slack's time, never the host's); an anomaly that old arriving later
        is then not alerted (`expired`) rather than alerted twice."""
        before = newest - self.cfg.retention_seconds
        state = self._store.detection_value(PRUNED) or {}
        if before <= int(state.get("before", 0)):
            return 0
        self._store.set_detection_value(PRUNED, {"before": before})
        return self._store.prune_detection_marks(before)

    def poll_done(self, source_id: str, log_type: str) -> None:
        """Send what the poll's pages raised, however the poll ended."""
        with self._lock:
            held = self._held.pop(source_id, None)
        if held is None:
            return
        for alert in held.closed + [alert_for(*o) for o in held.open.values()]:
            log.warning(
                "alert",
                extra={"alert_key": alert.key, "alert_status": alert.status, "rule": RULE},
            )
            self._submit(alert)
        if held.newest:
            self.prune(held.newest)

    def _first_sighting(self, anomaly: Anomaly, pruned: int) -> bool:
        key = f"detections:anomaly:seen:{anomaly.source_id}:{anomaly.event_id}"
        secs = anomaly.micros // 1_000_000
        if secs < pruned:
            self._count(anomaly.source_id, "expired", 1)
            return False
        if not self._store.mark_detection(key, {"at": clock.now_ts()}, time=secs):
            self._count(anomaly.source_id, "repeated", 1)
            return False
        with self._lock:
            held = self._held.setdefault(anomaly.source_id, _Held())
        held.newest = max(held.newest, secs)
        if self.trusted.excuses(anomaly):
            self._count(anomaly.source_id, "suppressed", 1)
            log.info(
                "anomaly from a trusted network not alerted",
                extra={"source_id": anomaly.source_id, "event_id": anomaly.event_id},
            )
            return False
        if not anomaly.well_formed:
            log.warning(
                "anomaly event with a missing or malformed reason",
                extra={"source_id": anomaly.source_id, "event_id": anomaly.event_id},
            )
        return True

    def _fold(self, anomaly: Anomaly) -> None:
        slot = f"detections:anomaly:group:{anomaly.source_id}:{anomaly.user}"
        with self._lock:
            held = self._held.setdefault(anomaly.source_id, _Held())
        before = held.open.get(slot)
        group = before[0] if before else Group.from_state(self._store.detection_value(slot))
        group, change = fold(group, anomaly, self.severity.highest(anomaly.reasons), self._window)
        self._store.set_detection_value(slot, group.state())
        if change == "new":
            if before is not None:
                held.closed.append(alert_for(*before))
            held.open[slot] = (group, change, anomaly)
            self._count(anomaly.source_id, "alerted", 1)
            return
        self._count(anomaly.source_id, "grouped", 1)
        if before is not None:
            held.open[slot] = (group, before[1], anomaly if change == "escalated" else before[2])
        elif change == "escalated":
            held.open[slot] = (group, change, anomaly)


def alert_for(group: Group, change: Change, anomaly: Anomaly) -> Alert:
    """What on-call sees: who, why (the reasons), how urgent, from where and when."""
    reasons = ", ".join(group.reasons) or "no reason given"
    many = f" ({group.count} anomalies)" if group.count > 1 else ""
    ctx = anomaly.context
    lines = [f"Reasons: {reasons} (severity {group.severity})"]
    if ctx.get("time"):
        lines.append(f"When: {ctx['time']}")
    for label, now, before in (
        ("IP address", "ip_address", "previous_ip_address"),
        ("User agent", "user_agent", "previous_user_agent"),
    ):
        if ctx.get(now):
            was = f" (was {ctx[before]})" if ctx.get(before) and ctx[before] != ctx[now] else ""
            lines.append(f"{label}: {ctx[now]}{was}")
    for label, name in (("Location", "location"), ("Session", "session_id")):
        if ctx.get(name):
            lines.append(f"{label}: {ctx[name]}")
    if group.count > 1:
        lines.append(
            f"{group.count} anomalies for {anomaly.user} since {iso_micros(group.start)}, "
            "grouped into this alert."
        )
    if group.previous.get("count", 0) > 1:
        lines.append(
            f"The previous alert for {anomaly.user} (from "
            f"{iso_micros(int(group.previous['start']))}) grew to "
            f"{group.previous['count']} anomalies."
        )
    if not anomaly.well_formed:
        lines.append("Slack's `reason` field was missing or malformed; read the event itself.")
    return Alert(
        key=group.key,
        rule=RULE,
        status="trigger" if change == "new" else "renotify",
        source_id=anomaly.source_id,
        source_label=anomaly.source_label,
        log_type=LOG_TYPE,
        summary=f"Slack anomaly: {anomaly.user} — {reasons}{many}",
        detail="\n".join(lines),
        since=group.start // 1_000_000,
        hint=(
            f"Ask {anomaly.user} whether this was them; Slack may already have ended the "
            "session. Networks you trust: [detections.anomaly] trusted_cidrs/trusted_asns "
            "and `slack-connector anomaly-allowlist sync`."
        ),
        context={
            **ctx,
            "reasons": reasons,
            "severity": group.severity,
            "count": str(group.count),
            "first_seen": iso_micros(group.start),
        },
        severity=group.severity,
    )
