"""Standard fields a SIEM expects on every row, in the shape Panther uses.

Rows keep every field Slack sent, known or not; the `p_*` fields are added beside them
(`p_row_id` comes from `connector.ingest.identity`).
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
    team_id: str | None = None
    """With Enterprise Grid (`team_ids`), the workspace this stream reads."""

    @property
    def stream(self) -> str:
        """Whose checkpoint, seen keys, lease and status these are: the source, or one
        workspace of it (`acme@T0123`; `@` is never part of a source id)."""
        return f"{self.id}@{self.team_id}" if self.team_id else self.id

    @property
    def object_name(self) -> str:
        """How object names begin: two workspaces' objects never share a name."""
        return f"{self.id}_{self.team_id}" if self.team_id else self.id

    def standard(self) -> dict[str, str]:
        """The `p_*` fields naming where a row came from."""
        fields = {"p_source_id": self.id, "p_source_label": self.label}
        if self.team_id:
            fields["p_slack_team_id"] = self.team_id
        return fields


class Enricher:
    """Output lines for the records of one page.

    A line is the raw record's fields exactly as Slack sent them, then the standard
    fields (which win over any `p_*` key a record might already carry). What is the same
    for the whole page is looked up once, and the events of a same-second burst share
    one formatted `p_event_time`.
    """

    def __init__(self, source: Source, logtype: LogType, parse_time: str) -> None:
        self._source = source.standard()
        self._log_type = logtype.log_type
        self._time_field = logtype.event_time_field
        self._indicators = type(logtype).add_indicators
        self._parse_time = parse_time
        self._times: dict[float, str] = {}

    def line(self, raw: Raw, record: Validated, rid: str) -> tuple[bytes, float]:
        """The output line and the event time (which picks its partition)."""
        event_ts = float(record[self._time_field])
        when = self._times.get(event_ts)
        if when is None:
            when = self._times[event_ts] = clock.rfc3339(event_ts)
        row = {
            **raw,
            "p_log_type": self._log_type,
            "p_event_time": when,
            "p_parse_time": self._parse_time,
            "p_row_id": rid,
            **self._source,
        }
        self._indicators(record, row)
        return orjson.dumps(row), event_ts


def quarantine_row(
    source: Source, logtype: LogType, raw: Any, reason: str, rid: str, parse_time: str
) -> dict[str, Any]:
    return {
        "p_log_type": logtype.log_type,
        "p_parse_time": parse_time,
        "p_row_id": rid,
        **source.standard(),
        "reason": reason,
        "record": raw,
    }
