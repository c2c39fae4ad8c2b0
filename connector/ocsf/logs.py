"""team.accessLogs rows and team.integrationLogs records as OCSF events.

An access row is Slack's aggregate of one user's sign-ins from one IP and user agent, so
it is an Authentication Logon with `count`, `start_time` (`date_first`) and `end_time`
(`date_last`, also its `time`). An integration record (an app or service added,
removed, enabled, disabled, or its scopes changed) is Entity Management of that app.
Both have no Slack id: `metadata.uid` is the connector's row id (`p_row_id`).
"""

from __future__ import annotations

from typing import Any

from connector.ocsf.event import (
    Event,
    Record,
    endpoint,
    epoch_ms,
    event,
    finish,
    ip_of,
    location_of,
    user,
)
from connector.ocsf.event import metadata as meta

ACCESS, INTEGRATION = "Slack.AccessLogs", "Slack.IntegrationLogs"


def access_event(row: dict[str, Any]) -> Event:
    r = Record(row)
    first = epoch_ms(r, "date_first", row.get("p_event_time"))
    last = epoch_ms(r, "date_last", row.get("p_event_time"))
    ev = event(
        "authentication", (1, "Logon"), last, meta(str(row.get("p_row_id")), ACCESS, "Access Logs")
    )
    ev["user"] = user(r.text("user_id"), r.text("username")) or {"name": "unknown"}
    ip = ip_of(r, "ip")
    where = endpoint(
        ip, location_of(r, country="country", region="region", isp="isp") if ip else None
    )
    count = r.flat.get("count")
    if isinstance(count, int) and not isinstance(count, bool) and 0 <= count < 2**31:
        ev["count"] = r.take("count")
    ua = r.text("user_agent")
    ev.update({"start_time": first, "end_time": last, "service": {"name": "Slack"}})
    if where:
        ev["src_endpoint"] = where
    if ua:
        ev["http_request"] = {"user_agent": ua}
    return finish(ev, r)


CHANGES = {
    "added": (1, "Create"),
    "removed": (4, "Delete"),
    "enabled": (3, "Update"),
    "disabled": (3, "Update"),
    "expanded": (3, "Update"),
    "updated": (3, "Update"),
}


def integration_event(row: dict[str, Any]) -> Event:
    r = Record(row)
    change = r.text("change_type") or "unknown"
    activity = CHANGES.get(change, (99, change))
    time = epoch_ms(r, "date", row.get("p_event_time"))
    md = meta(str(row.get("p_row_id")), INTEGRATION, "Integration Logs", event_code=change)
    ev = event("entity_management", activity, time, md)
    kind = "app" if r.flat.get("app_id") is not None or r.flat.get("app_type") else "service"
    uid, name = r.text(f"{kind}_id"), r.text(f"{kind}_type")
    ev["entity"] = (
        {"uid": uid, "name": name or uid or kind, "type": kind}
        if uid
        else {"name": name or kind, "type": kind}
    )
    who = user(r.text("user_id"), r.text("user_name"))
    if who:
        ev["actor"] = {"user": who}
    return finish(ev, r)
