"""`slack_anomaly`: every anomaly event Slack records raises an alert in the poll that
lands it, sent when that poll ends.

The pipeline shows each page's newly written audit rows (`connector.ingest.pipeline.Observer`);
only lines holding `"anomaly"` are parsed. Each anomaly is marked in the state store
before anything is sent (`StateStore.mark_detection`, set once across replicas), so a
re-read overlap, a restart or a second replica never alerts on it again. Marks live in
the detections' namespace, never read with the open alerts, and are pruned
`retention_seconds` (by event time) behind the newest anomaly.

A crash between marking and sending loses nothing: the page's anomaly rows go into the
source's outbox before any is marked, each mark names the outbox (`by`), and the next poll
of the source (in this process or another replica) sends what the outbox holds, counting a
mark of its own outbox as its own. The outbox is marked sent before the alerts are handed
to the dispatcher, so a later crash never sends them twice (the dispatcher's queue is in
memory: an alert queued when the process dies was never delivered either way).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from connector import clock
from connector.alerts.base import Alert
from connector.config.detections import AnomalyConfig
from connector.detections.anomaly import Anomaly, iso_micros, parse
from connector.detections.grouping import Change, Group, fold
from connector.detections.outbox import Outbox
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
    """One source's poll under way: its outbox (the anomaly rows of the poll, stored
    before any is marked), the groups it touched (stored once the poll's alerts are
    sent), the alerts it opened or escalated (sent when the poll ends, with every
    anomaly the poll added to them) and the ones a later group of the same user replaced
    within the poll."""

    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox
        self.token = outbox.token
        self.done: set[str] = set()
        """Event ids this process already weighed in this poll."""
        self.groups: dict[str, Group | None] = {}
        self.touched: set[str] = set()
        self.applied: set[str] = set()
        """Groups the outbox's poll already stored (its process died after sending)."""
        self.open: dict[str, tuple[Change, Anomaly]] = {}
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
        over the poll's pages is one alert with its whole count. The rows go into the
        source's outbox before any is marked, so a crash before the poll ends leaves them
        for the next poll to alert on."""
        by_source: dict[str, list[dict[str, Any]]] = {}
        for line in lines:
            if _NEEDLE in line and (anomaly := parse(row := orjson.loads(line))):
                by_source.setdefault(anomaly.source_id, []).append(row)
        return sum(self._weigh(self._holding(s), r) for s, r in by_source.items())

    def poll_done(self, source_id: str, log_type: str) -> None:
        """Send what the poll raised, however the poll ended, with whatever an earlier
        poll of the source left in its outbox when its process died before sending.

        The outbox is marked sent, then the alerts are handed to the dispatcher (in
        memory, nothing between that can fail), then the groups are stored: a failure or
        crash before the mark sends them at the next poll, one after it stores the groups
        at the next poll without sending again."""
        if not self.cfg.enabled or log_type != LOG_TYPE:
            return
        with self._lock:
            held = self._held.pop(source_id, None)
        if held is None:
            held = self._resume(source_id)
            if not held.outbox.rows:
                return
        left = [r for eid, r in held.outbox.rows.items() if eid not in held.done]
        if left:
            log.warning(
                "anomalies of an unfinished poll alerted now",
                extra={"source_id": source_id, "count": len(left)},
            )
            self._weigh(held, left, recovering=True)
        opened = [(held.groups[slot], *o) for slot, o in held.open.items()]
        alerts = held.closed + [alert_for(g, c, a) for g, c, a in opened if g is not None]
        if held.outbox.rows:
            held.outbox.mark_sent()
        for alert in alerts:
            log.warning(
                "alert",
                extra={"alert_key": alert.key, "alert_status": alert.status, "rule": RULE},
            )
            self._submit(alert)
        self._settle(held)

    def _resume(self, source_id: str) -> _Held:
        """The source's outbox as the last poll left it. One whose alerts went out but
        whose groups were not stored yet is settled now, without sending again."""
        held = _Held(Outbox(self._store, source_id))
        if held.outbox.sent:
            self._weigh(held, list(held.outbox.rows.values()), recovering=True)
            self._settle(held)
            held = _Held(Outbox(self._store, source_id))
        return held

    def _settle(self, held: _Held) -> None:
        for slot in held.touched:
            group = held.groups[slot]
            if group is not None:
                self._store.set_detection_value(slot, {**group.state(), "applied": held.token})
        if held.outbox.rows:
            held.outbox.clear()
        if held.newest:
            self.prune(held.newest)

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

    def _holding(self, source_id: str) -> _Held:
        with self._lock:
            held = self._held.get(source_id)
        if held is None:
            held = self._resume(source_id)
            with self._lock:
                held = self._held.setdefault(source_id, held)
        return held

    def _weigh(self, held: _Held, rows: list[dict[str, Any]], *, recovering: bool = False) -> int:
        pairs = [(a, r) for r in rows if (a := parse(r)) and a.event_id not in held.done]
        if not recovering and pairs:
            held.outbox.add({a.event_id: r for a, r in pairs})
        pruned = int((self._store.detection_value(PRUNED) or {}).get("before", 0))
        fresh = []
        for anomaly, _ in pairs:
            held.done.add(anomaly.event_id)
            if self._first_sighting(anomaly, held, pruned):
                fresh.append(anomaly)
        for anomaly in sorted(fresh, key=lambda a: a.micros):
            self._fold(anomaly, held, recovering)
        return len(fresh)

    def _first_sighting(self, anomaly: Anomaly, held: _Held, pruned: int) -> bool:
        key = f"detections:anomaly:seen:{anomaly.source_id}:{anomaly.event_id}"
        secs = anomaly.micros // 1_000_000
        if secs < pruned:
            self._count(anomaly.source_id, "expired", 1)
            return False
        if (
            not self._store.mark_detection(key, {"at": clock.now_ts(), "by": held.token}, time=secs)
            and (self._store.detection_mark(key) or {}).get("by") != held.token
        ):
            self._count(anomaly.source_id, "repeated", 1)
            return False
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

    def _fold(self, anomaly: Anomaly, held: _Held, recovering: bool) -> None:
        slot = f"detections:anomaly:group:{anomaly.source_id}:{anomaly.user}"
        if slot not in held.groups:
            stored = self._store.detection_value(slot)
            if stored and stored.get("applied") == held.token:
                held.applied.add(slot)
            held.groups[slot] = Group.from_state(stored)
        if recovering and slot in held.applied:
            return  # the poll that died had sent this group's alerts and stored it
        before = held.groups[slot]
        group, change = fold(before, anomaly, self.severity.highest(anomaly.reasons), self._window)
        held.groups[slot] = group
        held.touched.add(slot)
        opened = held.open.get(slot)
        if change == "new":
            if opened is not None and before is not None:
                held.closed.append(alert_for(before, *opened))
            held.open[slot] = (change, anomaly)
            self._count(anomaly.source_id, "alerted", 1)
            return
        self._count(anomaly.source_id, "grouped", 1)
        if opened is not None:
            held.open[slot] = (opened[0], anomaly if change == "escalated" else opened[1])
        elif change == "escalated":
            held.open[slot] = (change, anomaly)


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
