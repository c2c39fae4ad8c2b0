"""What an alert is and the interface every destination implements.

An alert has a stable `key` per (source, log type, rule), so a destination that
deduplicates (PagerDuty's `dedup_key`) ties the trigger, its renotifications and its
resolution together.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from connector.alerts.severity import Severity

Status = Literal["trigger", "renotify", "resolve"]


@dataclass(frozen=True)
class Alert:
    key: str
    rule: str
    status: Status
    source_id: str
    source_label: str
    log_type: str
    summary: str
    detail: str
    since: int
    hint: str = ""
    context: dict[str, str] = field(default_factory=dict)
    """The event behind an alert on landed rows (who, what, where, when); empty for the rest."""
    severity: Severity = "medium"

    def as_dict(self) -> dict[str, Any]:
        extra = {"context": dict(self.context)} if self.context else {}
        return {
            "key": self.key,
            "rule": self.rule,
            "status": self.status,
            "source_id": self.source_id,
            "source_label": self.source_label,
            "log_type": self.log_type,
            "summary": self.summary,
            "detail": self.detail,
            "since": self.since,
            "hint": self.hint,
            "severity": self.severity,
            **extra,
        }


class DeliveryError(Exception):
    """A destination did not accept the alert; the dispatcher retries and logs it."""


class DestinationOptions(BaseModel):
    """What every destination's `[[alerts.destinations]]` table accepts besides its own fields."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    timeout_seconds: float = Field(default=10.0, gt=0, le=300)


class Destination(ABC):
    kind: ClassVar[str]

    @abstractmethod
    def send(self, alert: Alert) -> None:
        """Deliver one alert or raise `DeliveryError` (message without secrets)."""

    def close(self) -> None:
        return None


REGISTRY: dict[str, type[Destination]] = {}


def register(cls: type[Destination]) -> type[Destination]:
    REGISTRY[cls.kind] = cls
    return cls
