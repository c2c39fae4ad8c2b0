"""One landed row to exactly one OCSF event, by its log type; never drops a row.

A row of a log type without a mapper, or one its mapper fails on, becomes a Base Event
with the whole row in `unmapped`, so an unexpected shape from Slack costs the row its
class, never the row.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from connector.ocsf.audit import audit_event
from connector.ocsf.event import Event, Record, epoch_ms, event, metadata
from connector.ocsf.logs import ACCESS, INTEGRATION, access_event, integration_event

log = logging.getLogger(__name__)

MAPPERS: dict[str, Callable[[dict[str, Any]], Event]] = {
    "Slack.AuditLogs": audit_event,
    ACCESS: access_event,
    INTEGRATION: integration_event,
}


def to_ocsf(row: dict[str, Any]) -> Event:
    log_type = str(row.get("p_log_type"))
    mapper = MAPPERS.get(log_type)
    if mapper is not None:
        try:
            return mapper(row)
        except Exception as exc:  # noqa: BLE001  a row is never dropped
            log.warning(
                "ocsf: row kept as a Base Event",
                extra={"log_type": log_type, "error": type(exc).__name__},
            )
    return base_event(row, log_type)


def base_event(row: dict[str, Any], log_type: str) -> Event:
    r = Record(row)
    uid = row.get("id") if log_type == "Slack.AuditLogs" else row.get("p_row_id")
    name = str(row.get("action") or log_type)
    ev = event(
        "base_event",
        (99, name),
        epoch_ms(None, "", row.get("p_event_time")),
        metadata(str(uid), log_type, log_type.removeprefix("Slack.")),
        status=None,
    )
    ev["message"] = name
    ev["unmapped"] = r.unmapped()
    return ev
