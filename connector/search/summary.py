"""What an analyst triages a search by, before the rows: when, where, who, what, watched.

`Summary` is folded over every matching row as the search streams them (the rows kept
for display are only the newest few), so its counts are of all matches. Memory stays
bounded: each tally keeps at most `DISTINCT_CAP` distinct values and says when it
stopped counting new ones.

Whether an indicator is watched comes from the caller (`Watched`): the watchlist knows
its lists, tags and owners, this module only phrases them.
"""

from __future__ import annotations

import math
import re
import shlex
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from connector import clock
from connector.indicators.match import Indicator
from connector.search import render
from connector.slack.mrkdwn import escape

TOP = 5
DISTINCT_CAP = 10_000


@dataclass(frozen=True)
class WatchEntry:
    """One watchlist entry holding an indicator, as the watchlist describes it."""

    watchlist: str
    """Which list: a named list, or where the entry comes from (config, file, slack)."""
    tags: tuple[str, ...] = ()
    added_by: str = ""
    added_at: str = ""
    context: str = ""
    """Why it is watched, e.g. the report it was extracted from."""


Watched = Callable[[Indicator], Sequence[WatchEntry]]


def not_watched(indicator: Indicator) -> Sequence[WatchEntry]:
    """The `Watched` of a caller that has no watchlist."""
    return ()


@dataclass
class Tally:
    """Counts per value, capped at `DISTINCT_CAP` distinct values."""

    counts: Counter[str] = field(default_factory=Counter)
    capped: bool = False

    def add(self, value: str) -> None:
        if not value:
            return
        if value in self.counts or len(self.counts) < DISTINCT_CAP:
            self.counts[value] += 1
        else:
            self.capped = True

    @property
    def distinct(self) -> str:
        return f"{len(self.counts)}+" if self.capped else str(len(self.counts))

    def top(self, n: int = TOP) -> list[tuple[str, int]]:
        return self.counts.most_common(n)

    def merge(self, other: Tally) -> None:
        for value, n in other.counts.items():
            if value in self.counts or len(self.counts) < DISTINCT_CAP:
                self.counts[value] += n
            else:
                self.capped = True
        self.capped = self.capped or other.capped


def _audit_action(row: dict[str, Any]) -> str:
    return str(row.get("action") or "")


def _access_action(row: dict[str, Any]) -> str:
    return "access"


def _integration_action(row: dict[str, Any]) -> str:
    service = row.get("service_type") or row.get("app_type") or ""
    return f"{row.get('change_type') or ''} {service}".strip()


ACTION: dict[str, Callable[[dict[str, Any]], str]] = {
    "Slack.AuditLogs": _audit_action,
    "Slack.AccessLogs": _access_action,
    "Slack.IntegrationLogs": _integration_action,
}


@dataclass
class Summary:
    """Aggregates over the matches of one indicator."""

    indicator: Indicator
    count: int = 0
    first_seen: str = ""
    last_seen: str = ""
    log_types: Tally = field(default_factory=Tally)
    sources: Tally = field(default_factory=Tally)
    actors: Tally = field(default_factory=Tally)
    actions: Tally = field(default_factory=Tally)
    ips: Tally = field(default_factory=Tally)
    complete: bool = True
    """False when the search stopped reading before the last match (a broad range)."""

    def add(self, row: dict[str, Any]) -> None:
        self.count += 1
        when = str(row.get("p_event_time") or "")
        if when and (not self.first_seen or when < self.first_seen):
            self.first_seen = when
        if when > self.last_seen:
            self.last_seen = when
        ctx = render.context(row)
        self.log_types.add(ctx["log_type"])
        self.sources.add(ctx["source"])
        self.actors.add(ctx["who"])
        action = ACTION.get(ctx["log_type"])
        self.actions.add(action(row) if action else "")
        addresses = row.get("p_any_ip_addresses")
        for ip in addresses if isinstance(addresses, list) else ():
            self.ips.add(str(ip))

    def merge(self, other: Summary) -> None:
        """Fold in the summary of other rows (the indexed part of a search)."""
        self.count += other.count
        for first in (other.first_seen,) if other.first_seen else ():
            self.first_seen = min(self.first_seen or first, first)
        self.last_seen = max(self.last_seen, other.last_seen)
        for name in ("log_types", "sources", "actors", "actions", "ips"):
            getattr(self, name).merge(getattr(other, name))
        self.complete = self.complete and other.complete

    def lines(self, watched: Sequence[WatchEntry], style: Style | None = None) -> list[str]:
        """The summary as lines of text, values marked up by `style` (plain by default)."""
        st = style or PLAIN
        at_least = "" if self.complete else "at least "
        head = f"{st.code(self.indicator.label)}: {at_least}{self.count} event(s)"
        if not self.count:
            return [head + " in the window", "  " + watch_line(watched, st)]
        return [
            f"{head}, first seen {self.first_seen}, last seen {self.last_seen}",
            "  by log type: " + _counts(self.log_types.top(), st),
            "  by source: " + _counts(self.sources.top(), st),
            f"  actors ({self.actors.distinct}): " + _counts(self.actors.top(), st),
            f"  actions ({self.actions.distinct}): " + _counts(self.actions.top(), st),
            f"  IPs ({self.ips.distinct}): " + (_counts(self.ips.top(), st) or "none"),
            "  " + watch_line(watched, st),
        ]

    def as_dict(self, watched: Sequence[WatchEntry]) -> dict[str, Any]:
        return {
            "indicator": self.indicator.label,
            "events": self.count,
            "complete": self.complete,
            "first_seen": self.first_seen or None,
            "last_seen": self.last_seen or None,
            "log_types": dict(self.log_types.top(DISTINCT_CAP)),
            "sources": dict(self.sources.top(DISTINCT_CAP)),
            "distinct_actors": self.actors.distinct,
            "top_actors": dict(self.actors.top()),
            "top_actions": dict(self.actions.top()),
            "distinct_ips": self.ips.distinct,
            "top_ips": dict(self.ips.top()),
            "watched": [
                {
                    "watchlist": w.watchlist,
                    "tags": list(w.tags),
                    "added_by": w.added_by,
                    "added_at": w.added_at,
                    "context": w.context,
                }
                for w in watched
            ],
        }


@dataclass(frozen=True)
class Style:
    """How values read in one medium: `code` marks a value up, `person` names a user."""

    code: Callable[[str], str]
    person: Callable[[str], str]
    text: Callable[[str], str]


def _same(value: str) -> str:
    return value


PLAIN = Style(_same, _same, _same)


def _counts(items: Iterable[tuple[str, int]], st: Style) -> str:
    return ", ".join(f"{st.code(value)} {n}" for value, n in items)


def watch_line(watched: Sequence[WatchEntry], st: Style) -> str:
    if not watched:
        return "watched: no"
    return "watched: " + "; ".join(_entry(w, st) for w in watched)


def _entry(w: WatchEntry, st: Style) -> str:
    parts = [f"in {st.code(w.watchlist)}"]
    if w.tags:
        parts.append("tagged " + ", ".join(st.code(t) for t in w.tags))
    if w.added_by:
        parts.append(f"by {st.person(w.added_by)}")
    if w.added_at:
        parts.append(f"on {st.text(w.added_at)}")
    if w.context:
        parts.append(f"({st.text(w.context)})")
    return " ".join(parts)


class Span(Protocol):
    @property
    def since(self) -> datetime: ...
    @property
    def until(self) -> datetime: ...


class Answer(Protocol):
    """What the answer text reads of a search's result (`search.results.Found`): named here,
    so the summary does not import the search that builds on it."""

    @property
    def hits(self) -> Sequence[render.Shown]: ...
    @property
    def summaries(self) -> Sequence[Summary]: ...
    @property
    def window(self) -> Span: ...
    @property
    def log_types(self) -> tuple[str, ...]: ...
    @property
    def limit(self) -> int: ...
    @property
    def total(self) -> int: ...
    @property
    def complete(self) -> bool: ...


def rest_command(found: Answer, config: str = "…", path: str | None = None) -> str:
    """The CLI command that prints every match of a search, window and all (streamed at
    constant memory: `--all`)."""
    since = clock.rfc3339(math.floor(found.window.since.timestamp()))
    until = clock.rfc3339(math.ceil(found.window.until.timestamp()))
    where = f"--path {shlex.quote(path)}" if path else f"--config {config}"
    parts = ["slack-connector search", where, f"--since {since}", f"--until {until}"]
    parts += [f"--log-type {shlex.quote(t)}" for t in found.log_types]
    parts += ["--all", "--summary"]
    parts += [shlex.quote(s.indicator.label) for s in found.summaries]
    return " ".join(parts)


def slack_answer(found: Answer, watched: Watched, text_limit: int = 3500) -> str:
    """The search's answer as Slack mrkdwn: the summaries, then as many of the newest
    rows as fit in `text_limit` characters, then the command that shows the rest."""
    wanted = ", ".join(_slack_code(s.indicator.label) for s in found.summaries)
    at_least = "" if found.complete else "at least "
    head = [f"{at_least}{found.total} event(s) with {wanted} in the window:"]
    for s in found.summaries:
        head += s.lines(watched(s.indicator), SLACK)
    rows = [escape(render.line(h)) for h in found.hits]
    fence = 8
    while True:
        shown = len(rows)
        more = found.total - shown if found.complete else None
        tail = _more_line(found, shown, more)
        body = "\n".join(rows)
        text = "\n".join(head)
        if rows:
            text += f"\nNewest {shown}:\n```\n{body}\n```"
        if tail:
            text += "\n" + tail
        if len(text) <= text_limit or not rows:
            break
        over = len(text) - text_limit + fence
        while rows and over > 0:
            over -= len(rows.pop()) + 1
    return text if len(text) <= text_limit else text[: text_limit - 1] + "…"


def _more_line(found: Answer, shown: int, more: int | None) -> str:
    if more == 0:
        return ""
    count = f"{more} more" if more is not None else "More"
    return f"_{count}: `{_tick(rest_command(found))}`_" if shown or found.total else ""


def _tick(value: str) -> str:
    return value.replace("`", "'")


def _slack_code(value: str) -> str:
    return f"`{_tick(escape(value))}`"


def _slack_person(user: str) -> str:
    """A Slack user id as a mention (Slack shows the name), anything else as text."""
    return f"<@{user}>" if _USER_ID.match(user) else escape(user)


_USER_ID = re.compile(r"^[UW][A-Z0-9]{6,}$")
SLACK = Style(_slack_code, _slack_person, escape)
