"""Where a watched indicator came from: who added it, when, into which named list, with
which tags and context (a note, or the report it was extracted from), and the reports.

Kept in the state store's watchlist namespace (`watchlist_value` / `set_watchlist_value`,
apart from alert state): one key per indicator (`watchlist:entry:<label>`)
holding its newest `MAX_ENTRIES` submissions, one per report (`watchlist:report:<id>`).
An indicator's key is read only to list it or to phrase its alert, never while scanning,
and a key per indicator keeps each item far below DynamoDB's 400 KB.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from connector import clock
from connector.state import StateStore

ENTRY_PREFIX = "watchlist:entry:"
REPORT_PREFIX = "watchlist:report:"
MAX_ENTRIES = 20
MAX_TAGS = 20


@dataclass(frozen=True)
class Entry:
    """One submission of one indicator."""

    list: str
    by: str
    at: str = field(default_factory=lambda: clock.rfc3339(clock.now_ts()))
    tags: tuple[str, ...] = ()
    note: str = ""
    report: str = ""
    """The id of the report it was extracted from, or ""."""

    def describe(
        self, titles: dict[str, str] | None = None, text: Callable[[str], str] = str
    ) -> str:
        """One line of provenance; `text` renders what an analyst typed (list, tags,
        title, note) for the medium: as is on a terminal, escaped in Slack."""
        parts = [f"list {text(self.list)}", f"by <@{text(self.by)}>" if self.by else "", self.at]
        if self.tags:
            parts.append("tags " + ", ".join(text(t) for t in self.tags))
        if self.report:
            title = text((titles or {}).get(self.report, ""))
            parts.append(f'report "{title}" ({self.report})' if title else f"report {self.report}")
        if self.note:
            parts.append(f'note "{text(self.note)}"')
        return "; ".join(p for p in parts if p)


@dataclass(frozen=True)
class Report:
    title: str
    body: str
    by: str
    list: str
    tags: tuple[str, ...] = ()
    at: str = field(default_factory=lambda: clock.rfc3339(clock.now_ts()))
    indicators: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        digest = hashlib.sha256(f"{self.by}\n{self.at}\n{self.title}\n{self.body}".encode())
        return "r-" + digest.hexdigest()[:12]


def tags(text: str) -> tuple[str, ...]:
    """Comma- or space-separated tags, lower-cased, each once, at most `MAX_TAGS`."""
    words = (t.strip().lower().lstrip("#") for t in text.replace(",", " ").split())
    return tuple(dict.fromkeys(w[:40] for w in words if w))[:MAX_TAGS]


class Provenance:
    def __init__(self, store: StateStore) -> None:
        self._store = store

    def record(self, label: str, entry: Entry, *, first: bool = False) -> None:
        """Append `entry`; `first` when the indicator was not watched from Slack before
        (never, or removed since), which saves the read: one store call, not two."""
        kept = [] if first else self.entries(label)[-(MAX_ENTRIES - 1) :]
        value = [asdict(e) for e in [*kept, entry]]
        self._store.set_watchlist_value(ENTRY_PREFIX + label, {"entries": value})

    def entries(self, label: str) -> list[Entry]:
        stored = self._store.watchlist_value(ENTRY_PREFIX + label) or {}
        return [_entry(e) for e in stored.get("entries", []) if isinstance(e, dict)]

    def forget(self, label: str) -> None:
        """The store has no delete; an empty value reads as no entries."""
        self._store.set_watchlist_value(ENTRY_PREFIX + label, {})

    def save_report(self, report: Report) -> str:
        value = asdict(report)
        value["id"] = report.id
        self._store.set_watchlist_value(REPORT_PREFIX + report.id, value)
        return report.id

    def report(self, report_id: str) -> Report | None:
        stored = self._store.watchlist_value(REPORT_PREFIX + report_id)
        if not stored:
            return None
        return Report(
            title=str(stored.get("title", "")),
            body=str(stored.get("body", "")),
            by=str(stored.get("by", "")),
            list=str(stored.get("list", "")),
            tags=tuple(stored.get("tags", ())),
            at=str(stored.get("at", "")),
            indicators=tuple(stored.get("indicators", ())),
        )

    def titles(self, entries: list[Entry]) -> dict[str, str]:
        """Report id to title, for the reports these entries came from."""
        ids = {e.report for e in entries if e.report}
        found = {i: self.report(i) for i in ids}
        return {i: r.title for i, r in found.items() if r is not None}


def _entry(value: dict[str, Any]) -> Entry:
    return Entry(
        list=str(value.get("list", "")),
        by=str(value.get("by", "")),
        at=str(value.get("at", "")),
        tags=tuple(str(t) for t in value.get("tags", ())),
        note=str(value.get("note", "")),
        report=str(value.get("report", "")),
    )
