"""PagerDuty Events API v2.

`dedup_key` is the alert's stable key, so a trigger, its renotifications and its
resolution land on one PagerDuty incident. The routing (integration) key is a secret read
at send time.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, field_validator

from connector import clock
from connector.alerts.base import Alert, Destination, DestinationOptions, register
from connector.alerts.destinations.webhook import new_client, post_json, resolve
from connector.alerts.severity import PAGERDUTY
from connector.secrets import SecretRef
from connector.urls import require_https

EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
_SUMMARY_MAX = 1024  # PagerDuty's limit for payload.summary


class PagerDutyOptions(DestinationOptions):
    type: Literal["pagerduty"]
    routing_key: SecretRef
    url: str = EVENTS_URL
    severity: Literal["critical", "error", "warning", "info"] | None = None
    """Every alert at this PagerDuty severity; unset, each at its own (`severity.PAGERDUTY`)."""

    @field_validator("url")
    @classmethod
    def _https(cls, value: str) -> str:
        return require_https(value)


@register
class PagerDuty(Destination):
    kind = "pagerduty"
    options_model: ClassVar[type[BaseModel]] = PagerDutyOptions

    def __init__(
        self,
        routing_key: SecretRef,
        url: str = EVENTS_URL,
        severity: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        self._routing_key = routing_key
        self._url = url
        self._severity = severity
        self._http = new_client(timeout)

    @classmethod
    def from_options(cls, options: BaseModel) -> Destination:
        opts = PagerDutyOptions.model_validate(options, from_attributes=True)
        return cls(opts.routing_key, opts.url, opts.severity, opts.timeout_seconds)

    def send(self, alert: Alert) -> None:
        key = resolve(self.kind, self._routing_key)
        body = event(alert, key, self._severity)
        post_json(self._http, self.kind, self._url, body, secrets=[key])

    def close(self) -> None:
        self._http.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(kind={self.kind!r})"


def event(alert: Alert, routing_key: str, severity: str | None = None) -> dict[str, Any]:
    summary = alert.summary or f"{alert.rule} on {alert.source_id}/{alert.log_type}"
    if len(summary) > _SUMMARY_MAX:
        summary = summary[: _SUMMARY_MAX - 1] + "…"
    return {
        "routing_key": routing_key,
        "event_action": "resolve" if alert.status == "resolve" else "trigger",
        "dedup_key": alert.key,
        "client": "slack-security-connector",
        "payload": {
            "summary": summary,
            "source": f"slack-connector/{alert.source_id}",
            "severity": severity or PAGERDUTY[alert.severity],
            "timestamp": clock.rfc3339(alert.since),
            "component": alert.log_type,
            "class": alert.rule,
            "custom_details": alert.as_dict(),
        },
    }
