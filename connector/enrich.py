"""Standard fields a SIEM expects on every row, in the shape Panther uses.

Rows keep every field Slack sent, known or not; the `p_*` fields are added beside them.
`p_row_id` is a hash of the source, log type and the record's natural key, so the same
event always gets the same id, which is also its dedupe key in the state store.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import orjson

from connector import clock
from connector.logtypes.base import LogType, Raw, Validated


@dataclass(frozen=True)
class Source:
    id: str
    label: str


def row_id(source: Source, logtype: LogType, key: str) -> str:
    digest = hashlib.sha256(f"{source.id}\x1f{logtype.log_type}\x1f{key}".encode())
    return digest.hexdigest()[:32]


def quarantine_id(source: Source, logtype: LogType, raw: Any) -> str:
    try:
        canonical = orjson.dumps(raw, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        canonical = repr(raw).encode()
    return row_id(source, logtype, "quarantine:" + hashlib.sha256(canonical).hexdigest())


def enrich(
    source: Source, logtype: LogType, raw: Raw, record: Validated, rid: str, parse_time: str
) -> tuple[bytes, float]:
    """The output line and the event time (which picks its partition).

    The line is the raw record's fields exactly as Slack sent them, then the standard
    fields (which win over any `p_*` key a record might already carry).
    """
    event_ts = logtype.event_time(record)
    extra: dict[str, Any] = {
        "p_log_type": logtype.log_type,
        "p_event_time": clock.rfc3339(event_ts),
        "p_parse_time": parse_time,
        "p_row_id": rid,
        "p_source_id": source.id,
        "p_source_label": source.label,
    }
    for kind, values in logtype.indicators(raw).items():
        extra[_INDICATOR_FIELDS.get(kind) or f"p_any_{kind}s"] = values
    return orjson.dumps({**raw, **extra}), event_ts


_INDICATOR_FIELDS = {
    "ip": "p_any_ip_addresses",
    "email": "p_any_emails",
    "username": "p_any_usernames",
}


def quarantine_row(
    source: Source, logtype: LogType, raw: Any, reason: str, rid: str, parse_time: str
) -> dict[str, Any]:
    return {
        "p_log_type": logtype.log_type,
        "p_parse_time": parse_time,
        "p_row_id": rid,
        "p_source_id": source.id,
        "p_source_label": source.label,
        "reason": reason,
        "record": raw,
    }
