"""One user's burst of anomalies is one alert.

Anomalies of a user within `group_seconds` (by Slack's event time, never the host clock)
of the first one of their group join it: the group's alert went out with the first poll
that landed any of them, counting every anomaly that poll held; later ones only add to
the count, unless they raise the severity, which re-notifies under the same alert key
(one PagerDuty incident). The next group of that user says how large the previous one
grew. Pure functions over `Group`, so the rules are unit-tested without a store.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from connector.alerts.severity import RANK, Severity
from connector.detections.anomaly import Anomaly

Change = Literal["new", "grown", "escalated"]


@dataclass(frozen=True)
class Group:
    key: str
    start: int
    """Microseconds: the event time of its first anomaly."""
    count: int
    reasons: list[str]
    severity: Severity
    previous: dict[str, Any] = field(default_factory=dict)
    """The group this one replaced (its start and final count), for the alert's detail."""

    def state(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_state(cls, value: dict[str, Any] | None) -> Group | None:
        if not value:
            return None
        try:
            return cls(
                key=str(value["key"]),
                start=int(value["start"]),
                count=int(value["count"]),
                reasons=[str(r) for r in value.get("reasons", [])],
                severity=value["severity"] if value.get("severity") in RANK else "medium",
                previous=dict(value.get("previous") or {}),
            )
        except (KeyError, TypeError, ValueError):
            return None


def fold(
    group: Group | None, anomaly: Anomaly, severity: Severity, window_micros: int
) -> tuple[Group, Change]:
    """Where `anomaly` goes: into `group` when it is within the window of its start
    (either side: pages arrive newest first), else into a new group of its own."""
    if group is not None and abs(anomaly.micros - group.start) <= window_micros:
        reasons = list(dict.fromkeys([*group.reasons, *anomaly.reasons]))
        higher = RANK[severity] > RANK[group.severity]
        grown = replace(
            group,
            count=group.count + 1,
            reasons=reasons,
            severity=severity if higher else group.severity,
        )
        return grown, "escalated" if higher else "grown"
    previous = {"start": group.start, "count": group.count} if group is not None else {}
    key = f"detections:anomaly:{anomaly.source_id}:{anomaly.user}:{anomaly.event_id}"
    return Group(key, anomaly.micros, 1, list(anomaly.reasons), severity, previous), "new"
