"""`[detections]`: alert rules over the rows that land (Slack's anomaly events, new
actions). Each detection is on by default: what it reads is already in the logs, and
what it sends goes to the `[alerts]` destinations."""

from __future__ import annotations

import ipaddress

from pydantic import Field, field_validator

from connector.alerts.severity import Severity
from connector.config.sections import Strict


class AnomalyConfig(Strict):
    """`[detections.anomaly]`: Slack's `action = "anomaly"` audit events as alerts."""

    enabled: bool = True
    severity: dict[str, Severity] = Field(default_factory=dict)
    """Per reason code, over the defaults (`connector.detections.reasons.DEFAULT_SEVERITY`)."""
    group_seconds: int = Field(default=300, ge=0, le=86_400)
    """One user's anomalies this close together (by event time) go out as one alert."""
    retention_seconds: int = Field(default=7 * 86_400, ge=2 * 86_400)
    """How long (by event time, before the newest anomaly landed) an anomaly stays marked as
    alerted. It must outlast every way an event is read again: the late-event overlap
    (minutes), a burst's `group_seconds` (a day at most), and a `state reset` or restart
    re-reading `first_run_lookback_seconds` (a day by default); a week leaves days over.
    An anomaly older than that landing later is counted `expired`, never alerted twice."""
    trusted_cidrs: list[str] = Field(default_factory=list)
    trusted_asns: list[int] = Field(default_factory=list)
    """Anomalies whose only reasons are `ip_address`/`asn` from these are not alerted."""

    @field_validator("severity")
    @classmethod
    def _codes(cls, value: dict[str, Severity]) -> dict[str, Severity]:
        bad = [code for code in value if not code or not code.replace("_", "").isalnum()]
        if bad:
            raise ValueError(f"{bad[0]!r} is not a reason code (letters, digits and _)")
        return value

    @field_validator("trusted_cidrs")
    @classmethod
    def _cidrs(cls, value: list[str]) -> list[str]:
        for i, text in enumerate(value):
            try:
                ipaddress.ip_network(text, strict=False)
            except ValueError:
                raise ValueError(
                    f"[{i}]: {text!r} is not an IP network (e.g. 198.51.100.0/24)"
                ) from None
        return [str(ipaddress.ip_network(t, strict=False)) for t in value]

    @field_validator("trusted_asns", mode="before")
    @classmethod
    def _asns(cls, value: object) -> object:
        """`AS13335` and `13335` are the same ASN."""
        if not isinstance(value, list):
            return value
        out: list[object] = []
        for item in value:
            if isinstance(item, str) and item.upper().startswith("AS") and item[2:].isdigit():
                item = int(item[2:])
            out.append(item)
        return out


class CatalogConfig(Strict):
    """`[detections.catalog]`: Slack's lists of audit actions and entity types, read daily."""

    enabled: bool = True
    refresh_seconds: int = Field(default=86_400, ge=3600)
    stale_after_seconds: int = Field(default=2 * 86_400, ge=3600)


class DetectionsConfig(Strict):
    anomaly: AnomalyConfig = AnomalyConfig()
    catalog: CatalogConfig = CatalogConfig()
