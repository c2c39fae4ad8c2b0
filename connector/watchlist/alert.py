"""The `watchlist_match` alert for one watched indicator seen in one landed row."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from connector import clock
from connector.alerts.base import Alert
from connector.indicators.match import Indicator
from connector.search import render
from connector.watchlist.provenance import Entry

RULE = "watchlist_match"


def alert(
    indicator: Indicator,
    row: dict[str, Any],
    key: str,
    suppressed: int = 0,
    entries: Sequence[Entry] = (),
) -> Alert:
    """The alert for one match; `entries` say who submitted the indicator, to which
    lists and from which report, so whoever is paged knows whom to ask."""
    ctx = render.context(row)
    lines = [f"{name}: {ctx[name]}" for name in ("who", "what", "where", "when") if ctx[name]]
    if entries:
        lines.append(f"watched since: {entries[-1].describe()}")
    if suppressed:
        lines.append(f"{suppressed} earlier matches were not alerted (rate limit).")
    submitted = {
        "watchlists": ", ".join(dict.fromkeys(e.list for e in entries)),
        "submitted_by": ", ".join(dict.fromkeys(e.by for e in entries if e.by)),
        "reports": ", ".join(dict.fromkeys(e.report for e in entries if e.report)),
    }
    when = ctx["when"]
    return Alert(
        key=key,
        rule=RULE,
        status="trigger",
        source_id=str(row.get("p_source_id", "")),
        source_label=ctx["source"],
        log_type=ctx["log_type"],
        summary=f"Watched {indicator.label} seen: {render.summary(row)}",
        detail="\n".join(lines),
        since=_ts(when),
        hint=f"slack-connector search --config ... '{indicator.label}'",
        severity="high",
        context={
            **ctx,
            **{k: v for k, v in submitted.items() if v},
            "indicator": indicator.label,
            "p_row_id": str(row.get("p_row_id", "")),
        },
    )


def _ts(when: str) -> int:
    try:
        return int(datetime.fromisoformat(when).timestamp())
    except ValueError:
        return clock.now_ts()
