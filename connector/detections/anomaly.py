"""One of Slack's anomaly events, as an alert reads it.

`details.action_timestamp` is documented in microseconds (it precedes `date_create` by
seconds to a minute); a fixture in the wild carries milliseconds, so the unit is told by
magnitude, and the time is kept as whole microseconds (a float second loses the last
digit of a 16-digit microsecond value).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from connector import clock
from connector.detections.reasons import reasons_of

ACTION = "anomaly"
_MICRO = 1_000_000


@dataclass(frozen=True)
class Anomaly:
    event_id: str
    source_id: str
    source_label: str
    user: str
    """Who the anomaly is about: the actor's email, else their name, else their id."""
    micros: int
    """When Slack saw the anomalous action, in microseconds since the epoch."""
    reasons: list[str]
    well_formed: bool
    ip_address: str
    asn: int | None
    context: dict[str, str] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return self.micros / _MICRO


def parse(row: dict[str, Any]) -> Anomaly | None:
    """The anomaly a landed row holds, or None when it is not one."""
    if row.get("action") != ACTION:
        return None
    details = _obj(row.get("details"))
    ctx = _obj(row.get("context"))
    reasons, well_formed = reasons_of(details)
    micros = micros_of(details.get("action_timestamp")) or micros_of(row.get("date_create")) or 0
    location = _obj(ctx.get("location"))
    fields = {
        "event_id": _text(row.get("id")),
        "time": iso_micros(micros) if micros else "",
        "user": user_of(row),
        "reasons": ", ".join(reasons) if reasons else "(none given)",
        "ip_address": _text(ctx.get("ip_address")),
        "previous_ip_address": _text(details.get("previous_ip_address")),
        "user_agent": _text(ctx.get("ua")),
        "previous_user_agent": _text(details.get("previous_ua")),
        "location": _text(details.get("location")),
        "session_id": _text(ctx.get("session_id")),
        "workspace": _text(location.get("name") or location.get("id")),
        "ip_address_details": _joined(details.get("ip_address_details")),
        "user_agent_change_details": _joined(details.get("user_agent_change_details")),
    }
    if not well_formed:
        fields["reason_field"] = f"malformed: {_text(details.get('reason'))[:200] or 'missing'}"
    return Anomaly(
        event_id=fields["event_id"],
        source_id=_text(row.get("p_source_id")),
        source_label=_text(row.get("p_source_label")) or _text(row.get("p_source_id")),
        user=fields["user"],
        micros=micros,
        reasons=reasons,
        well_formed=well_formed,
        ip_address=fields["ip_address"],
        asn=asn_of(details),
        context={k: v for k, v in fields.items() if v},
    )


def micros_of(value: Any) -> int | None:
    """A Slack time in microseconds, whatever unit it came in: seconds up to 1e11 (year
    5138), milliseconds up to 1e14, microseconds beyond."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    exact = isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit())
    try:
        number = int(value) if exact else float(value)
    except ValueError:
        return None
    if not math.isfinite(number) or number <= 0:
        return None
    if number < 1e11:
        return round(number * _MICRO)
    if number < 1e14:
        return round(number * 1000)
    return int(number) if number < 1e17 else None


def iso_micros(micros: int) -> str:
    whole, rest = divmod(micros, _MICRO)
    if not rest:
        return clock.rfc3339(whole)
    return datetime.fromtimestamp(whole, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{rest:06d}Z"


def user_of(row: dict[str, Any]) -> str:
    """The actor (whose session the context's IP and user agent are), else the entity."""
    for side in ("actor", "entity"):
        user = _obj(_obj(row.get(side)).get("user"))
        for name in ("email", "name", "id"):
            if _text(user.get(name)):
                return _text(user.get(name))
    return "unknown user"


def asn_of(details: dict[str, Any]) -> int | None:
    """The ASN, when the event names one (`asn` or `ip_address_asn`, a number or `AS123`)."""
    for name in ("asn", "ip_address_asn"):
        value = details.get(name)
        if isinstance(value, str) and value.upper().startswith("AS"):
            value = value[2:]
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and value.isdigit():
            return int(value)
    return None


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str:
    if value is None or isinstance(value, dict | list):
        return "" if value is None else str(value)
    return str(value)


def _joined(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return _text(value)
