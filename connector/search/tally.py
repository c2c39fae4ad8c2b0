"""A search's summaries counted by DuckDB: the tallies of `Summary.add`, as one GROUP BY.

The search finds the matching rows (the index names their lines; a scan verifies its
candidates with `Indicator.matches`) and hands their raw lines here, a few megabytes at
a time, each under the indicator it matches (a row matching two indicators is handed
under both). DuckDB groups them by log type, source, actor, action and IP, with the
count and first and last event time; Python merges one row per distinct value a query,
never one per match. (DuckDB reading the objects itself, lines picked by their
ordinality, cost 50 % more CPU at 20 % of the rows: it parses every line of an object.)

The SQL says what `render.context` and `summary.ACTION` say, for rows whose fields are
JSON strings (or absent, or null), which every validated row's are. A row with another
kind of value in a field read (a number where a name goes, an object in
`p_any_ip_addresses`) is sent back and folded by `Summary.add` itself, so an odd row can
never be counted differently. `tests/test_search_index.py` holds the two to the same
answer.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb
import orjson

from connector.indicators.match import Indicator
from connector.search.summary import Summary, Tally

BATCH_CHARS = 4 << 20
"""Lines buffered per indicator before DuckDB counts them (~4,500 audit rows a query):
bounds the memory a tally of a very common indicator takes (peak RSS at 200,000 matches:
261 MB with 8 MiB, 173 MB with 2 MiB, which cost ~15 % more CPU in merges)."""

FIELDS = {
    "t": "$.p_event_time",
    "log_type": "$.p_log_type",
    "label": "$.p_source_label",
    "source_id": "$.p_source_id",
    "actor_name": "$.actor.user.name",
    "actor_id": "$.actor.user.id",
    "actor_email": "$.actor.user.email",
    "action": "$.action",
    "username": "$.username",
    "user_id": "$.user_id",
    "user_name": "$.user_name",
    "change_type": "$.change_type",
    "service_type": "$.service_type",
    "app_type": "$.app_type",
}
"""The fields a summary reads, by JSON path: each is "" when absent or null (as `_get`
and `or ""` make it in Python)."""

_ACTOR = "CASE WHEN actor_name <> '' THEN actor_name ELSE actor_id END"
WHO = {
    "Slack.AuditLogs": (
        f"({_ACTOR}) || CASE WHEN actor_email <> '' THEN ' <' || actor_email || '>' ELSE '' END"
    ),
    "Slack.AccessLogs": "username || ' (' || user_id || ')'",
    "Slack.IntegrationLogs": "user_name || ' (' || user_id || ')'",
}
"""`render.DESCRIBE`'s "who" per log type, in SQL."""

SPACE_MAX = 0x3000
_SPACE = "".join(chr(c) for c in range(SPACE_MAX + 1) if chr(c).isspace())
_CLASS = "[" + "".join(f"\\x{{{ord(c):x}}}" for c in _SPACE) + "]"
_STRIP = f"'^{_CLASS}+|{_CLASS}+$'"
"""What `str.strip()` removes, as an RE2 class, from Python's own definition (no
character above `SPACE_MAX` is whitespace: a test holds it)."""

ACTION = {
    "Slack.AuditLogs": "action",
    "Slack.AccessLogs": "'access'",
    "Slack.IntegrationLogs": (
        f"regexp_replace(change_type || ' ' || CASE WHEN service_type <> '' THEN service_type "
        f"ELSE app_type END, {_STRIP}, '', 'g')"
    ),
}
"""`summary.ACTION` per log type, in SQL."""


def _case(by_type: dict[str, str]) -> str:
    arms = " ".join(f"WHEN {_quote(t)} THEN {sql}" for t, sql in by_type.items())
    return f"CASE log_type {arms} ELSE '' END"


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


_TEMPLATE = """
WITH lines AS (SELECT unnest(string_split($text, chr(10))) AS line),
parsed AS (
    SELECT line, json_extract_string(line, {paths}) AS v, json_type(line, {paths}) AS types,
        json_extract(line, '$.p_any_ip_addresses') AS ip_json
    FROM lines
),
typed AS (
    SELECT *, len(list_filter(types, x -> x NOT IN ('VARCHAR', 'NULL'))) = 0
        AND (json_type(ip_json) IS DISTINCT FROM 'ARRAY'
             OR len(list_filter(json_type(ip_json, '$[*]'), x -> x <> 'VARCHAR')) = 0) AS plain
    FROM parsed
),
rows AS MATERIALIZED (
    SELECT {columns},
        CASE WHEN json_type(ip_json) = 'ARRAY' THEN json_extract_string(ip_json, '$[*]')
        ELSE [] END AS ips
    FROM typed WHERE plain
),
facets AS (
    SELECT log_type, CASE WHEN label <> '' THEN label ELSE source_id END AS source,
        {who} AS actor, {action} AS action_, ips
    FROM rows
)
SELECT 'count', NULL, count(*) FROM rows
UNION ALL SELECT 'first', min(t) FILTER (WHERE t <> ''), NULL FROM rows
UNION ALL SELECT 'last', max(t), NULL FROM rows
UNION ALL SELECT 'odd', line, NULL FROM typed WHERE NOT plain
"""
_FACETS = """
UNION ALL SELECT f.k, f.v, count(*) FROM (
    SELECT unnest([struct_pack(k := 'log_types', v := log_type),
        struct_pack(k := 'sources', v := source), struct_pack(k := 'actors', v := actor),
        struct_pack(k := 'actions', v := action_)]) AS f FROM facets
    UNION ALL SELECT struct_pack(k := 'ips', v := unnest(ips)) FROM facets
) WHERE f.v <> '' GROUP BY ALL
"""
ROWS = _TEMPLATE.format(
    paths="[" + ", ".join(_quote(p) for p in FIELDS.values()) + "]",
    columns=", ".join(f"coalesce(v[{n}], '') AS {name}" for n, name in enumerate(FIELDS, 1)),
    who=_case(WHO),
    action=_case(ACTION),
)
"""Count, first and last event time, and the lines `Summary.add` must fold itself."""
WITH_FACETS = ROWS + _FACETS
"""And one row per (tally, value) with its count."""


@dataclass
class Tallies:
    """The summaries of the lines handed in, per indicator (in the order asked); with
    `facets` False only the count and first and last seen."""

    db: duckdb.DuckDBPyConnection
    indicators: Sequence[Indicator]
    facets: bool = True
    summaries: list[Summary] = field(default_factory=list)
    _buffer: dict[int, list[str]] = field(default_factory=dict)
    _size: dict[int, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.summaries = [Summary(i) for i in self.indicators]

    def add(self, ord_: int, lines: str) -> None:
        """Rows matching the indicator at position `ord_`: JSON lines joined by newlines."""
        if not lines:
            return
        self._buffer.setdefault(ord_, []).append(lines)
        self._size[ord_] = self._size.get(ord_, 0) + len(lines)
        if self._size[ord_] >= BATCH_CHARS:
            self._count(ord_)

    def done(self) -> list[Summary]:
        """Count what is buffered; the summaries, complete."""
        for ord_ in list(self._buffer):
            self._count(ord_)
        return self.summaries

    def _count(self, ord_: int) -> None:
        text = "\n".join(self._buffer.pop(ord_))
        self._size.pop(ord_, None)
        sql = WITH_FACETS if self.facets else ROWS
        self._merge(ord_, self.db.execute(sql, {"text": text}).fetchall())

    def _merge(self, ord_: int, got: list[tuple[Any, ...]]) -> None:
        summary = self.summaries[ord_]
        odd = Summary(summary.indicator)
        tallies: dict[str, Counter[str]] = defaultdict(Counter)
        for kind, value, n in got:
            if kind == "count":
                summary.count += n
            elif kind == "first" and value:
                summary.first_seen = min(summary.first_seen or value, value)
            elif kind == "last" and value:
                summary.last_seen = max(summary.last_seen, value)
            elif kind == "odd":
                odd.add(orjson.loads(value))
            elif kind not in ("first", "last"):
                tallies[kind][value] = n
        for name, counts in tallies.items():
            getattr(summary, name).merge(Tally(counts))
        if odd.count:
            if not self.facets:
                odd = Summary(odd.indicator, odd.count, odd.first_seen, odd.last_seen)
            summary.merge(odd)
