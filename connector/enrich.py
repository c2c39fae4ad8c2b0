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
from connector.logtypes.base import LogType, Raw, Record


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
    source: Source, logtype: LogType, raw: Raw, record: Record, rid: str, parse_time: str
) -> tuple[dict[str, Any], float]:
    """The output row and its event time (which picks its partition)."""
    event_ts = logtype.event_time(record)
    row: dict[str, Any] = dict(raw)
    row["p_log_type"] = logtype.log_type
    row["p_event_time"] = clock.rfc3339(event_ts)
    row["p_parse_time"] = parse_time
    row["p_row_id"] = rid
    row["p_source_id"] = source.id
    row["p_source_label"] = source.label
    for kind, values in logtype.indicators(raw).items():
        row[f"p_any_{_PLURAL.get(kind, kind + 's')}"] = values
    return row, event_ts


_PLURAL = {"ip": "ip_addresses", "email": "emails", "username": "usernames"}


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
