"""What a search answers: its hits, the newest kept of them, the time window asked, and
the one error a search reports. Apart from `query`, so what renders, exports or posts an
answer reads these without the search's DuckDB machinery."""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from connector import clock
from connector.indicators.keys import EPOCH, MICRO
from connector.indicators.match import Indicator
from connector.search.summary import Summary

DEFAULT_WINDOW = timedelta(days=30)


class SearchError(Exception):
    """The output cannot be searched (empty, unreadable, misconfigured); safe to print."""


def first_line(exc: BaseException) -> str:
    """An error's first line (DuckDB's run on), or its type when it has no text."""
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


@dataclass(frozen=True)
class Hit:
    indicator: Indicator
    row: dict[str, Any]
    line: str

    @property
    def event_time(self) -> str:
        return str(self.row.get("p_event_time", ""))

    @property
    def when(self) -> datetime | None:
        return when_of(self.row)


@dataclass
class Found:
    """A search's answer: the newest `limit` hits, a summary of every match per
    indicator (in the order asked; a row holding two counts for both), and how many
    distinct rows match (`matched`; when not given, the summaries' sum)."""

    hits: list[Hit]
    summaries: list[Summary]
    window: Window
    log_types: tuple[str, ...] = ()
    limit: int = 100
    matched: int | None = None

    @property
    def total(self) -> int:
        return self.matched if self.matched is not None else sum(s.count for s in self.summaries)

    @property
    def complete(self) -> bool:
        return all(s.complete for s in self.summaries)


@dataclass
class Newest:
    """The newest `limit` hits of a stream, and how many rows matched in all."""

    limit: int
    heap: list[tuple[datetime, int, Hit]] = field(default_factory=list)
    seen: int = 0
    rows: int = 0
    cut: bool = False

    def add(self, hits: list[Hit], window: Window) -> None:
        for hit in hits:
            self.seen += 1
            item = (when_of(hit.row) or window.since, -self.seen, hit)
            if len(self.heap) < self.limit:
                heapq.heappush(self.heap, item)
            elif item[0] > self.heap[0][0]:
                heapq.heapreplace(self.heap, item)

    def newest(self) -> list[Hit]:
        return [h for _, _, h in sorted(self.heap, key=lambda i: (i[0], i[1]), reverse=True)]

    def settled(self, newest_us: int) -> bool:
        """Whether no row at `newest_us` (µs) or older can be kept any more: `limit`
        rows are held and the oldest of them is at least as new."""
        return (
            bool(self.heap)
            and len(self.heap) >= self.limit
            and newest_us <= (self.heap[0][0] - EPOCH) // MICRO
        )


@dataclass(frozen=True)
class Window:
    since: datetime
    until: datetime

    @classmethod
    def last(cls, since: datetime | None = None, until: datetime | None = None) -> Window:
        end = until or clock.now()
        return cls(since or end - DEFAULT_WINDOW, end)


def when_of(row: dict[str, Any]) -> datetime | None:
    try:
        return datetime.fromisoformat(str(row.get("p_event_time"))).astimezone(UTC)
    except ValueError:
        return None


def in_window(row: dict[str, Any], window: Window) -> bool:
    when = when_of(row)
    return when is not None and window.since <= when <= window.until
