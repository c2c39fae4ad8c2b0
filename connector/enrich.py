"""Standard fields a SIEM expects on every row, in the shape Panther uses.

Rows keep every field Slack sent, known or not; the `p_*` fields are added beside them
(`p_row_id` comes from `connector.identity`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from connector import clock
from connector.logtypes.base import LogType, Raw, Validated


@dataclass(frozen=True)
class Source:
    id: str
    label: str


def enrich(
    source: Source, logtype: LogType, raw: Raw, record: Validated, rid: str, parse_time: str
) -> tuple[bytes, float]:
    """The output line and the event time (which picks its partition).

    The line is the raw record's fields exactly as Slack sent them, then the standard
    fields (which win over any `p_*` key a record might already carry).
    """
    event_ts = logtype.event_time(record)
    row = {
        **raw,
        "p_log_type": logtype.log_type,
        "p_event_time": clock.rfc3339(event_ts),
        "p_parse_time": parse_time,
        "p_row_id": rid,
        "p_source_id": source.id,
        "p_source_label": source.label,
    }
    type(logtype).add_indicators(record, row)
    return orjson.dumps(row), event_ts


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
