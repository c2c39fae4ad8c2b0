"""How a matching event reads to an analyst: one line of who, what, from where.

One function per log type (a registry keyed by `p_log_type`), shared by the CLI table,
the slash command's replies and the watchlist alert's context.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import orjson

from connector.indicators.match import Indicator

Row = dict[str, Any]


class Shown(Protocol):
    """What rendering reads of a search hit (`search.results.Hit`): named here, so showing a
    hit does not import the search that finds it."""

    @property
    def indicator(self) -> Indicator: ...
    @property
    def row(self) -> Row: ...
    @property
    def event_time(self) -> str: ...


def _get(row: Row, *path: str) -> str:
    node: Any = row
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    return "" if node is None else str(node)


def _audit(row: Row) -> dict[str, str]:
    actor = _get(row, "actor", "user", "name") or _get(row, "actor", "user", "id")
    email = _get(row, "actor", "user", "email")
    entity_type = _get(row, "entity", "type")
    entity = _get(row, "entity", entity_type, "name") or _get(row, "entity", entity_type, "id")
    return {
        "who": f"{actor} <{email}>" if email else actor,
        "what": f"{_get(row, 'action')} {entity_type} {entity}".strip(),
        "where": _get(row, "context", "ip_address"),
    }


def _access(row: Row) -> dict[str, str]:
    return {
        "who": f"{_get(row, 'username')} ({_get(row, 'user_id')})",
        "what": f"access x{_get(row, 'count')} {_get(row, 'user_agent')}".strip(),
        "where": " ".join(
            v for v in (_get(row, "ip"), _get(row, "country"), _get(row, "region")) if v
        ),
    }


def _integration(row: Row) -> dict[str, str]:
    service = _get(row, "service_type") or _get(row, "app_type")
    ident = _get(row, "service_id") or _get(row, "app_id")
    return {
        "who": f"{_get(row, 'user_name')} ({_get(row, 'user_id')})",
        "what": f"{_get(row, 'change_type')} {service} {ident}".strip(),
        "where": _get(row, "channel"),
    }


DESCRIBE: dict[str, Callable[[Row], dict[str, str]]] = {
    "Slack.AuditLogs": _audit,
    "Slack.AccessLogs": _access,
    "Slack.IntegrationLogs": _integration,
}


def context(row: Row) -> dict[str, str]:
    """who / what / where / when / log type / source of one landed row."""
    describe = DESCRIBE.get(str(row.get("p_log_type")))
    parts = describe(row) if describe else {"who": "", "what": "", "where": ""}
    return {
        **parts,
        "when": _get(row, "p_event_time"),
        "log_type": _get(row, "p_log_type"),
        "source": _get(row, "p_source_label") or _get(row, "p_source_id"),
    }


def summary(row: Row) -> str:
    c = context(row)
    where = f" from {c['where']}" if c["where"] else ""
    return f"{c['who']}: {c['what']}{where}"


COLUMNS = ("TIME", "LOG TYPE", "SOURCE", "MATCHED", "DETAILS")


def table(hits: Sequence[Shown]) -> str:
    rows = [
        (
            h.event_time,
            str(h.row.get("p_log_type", "")),
            str(h.row.get("p_source_id", "")),
            h.indicator.label,
            summary(h.row),
        )
        for h in hits
    ]
    widths = [max([len(c), *(len(r[i]) for r in rows)]) for i, c in enumerate(COLUMNS)]
    lines = [COLUMNS, *rows]
    return "\n".join(
        "  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip() for line in lines
    )


def ndjson(hits: Sequence[Shown]) -> str:
    """The full rows as landed, one JSON object per line."""
    return "\n".join(orjson.dumps(h.row).decode() for h in hits)


def line(hit: Shown) -> str:
    """One hit on one line: time, log type, source, what matched, and the summary."""
    row = hit.row
    return (
        f"{hit.event_time}  {row.get('p_log_type', '')}  {row.get('p_source_id', '')}  "
        f"[{hit.indicator.label}]  {summary(row)}"
    )
