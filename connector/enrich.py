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

    The line is the raw record's JSON with the standard fields spliced in before its
    closing brace: no copy of the record, and its fields stay exactly as Slack sent them.
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
        extra[f"p_any_{_PLURAL.get(kind, kind + 's')}"] = values
    if raw.keys() & extra.keys():
        raw = {k: v for k, v in raw.items() if k not in extra}
    body = orjson.dumps(raw)
    return body[:-1] + (b"," if len(body) > 2 else b"") + orjson.dumps(extra)[1:], event_ts


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
