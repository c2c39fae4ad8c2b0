"""A search in time slices, newest first, so a search stopped part way knows how far it got.

The window is cut at UTC midnights into at most `SLICES` slices (whole days each, so no
hourly or daily partition straddles two). Each slice is an ordinary `Searcher.find` over
`[since, next since - 1 µs]` (event times carry microseconds, and both ends of a window
are inclusive, so no row is in two slices), and the answers are folded together: the
newest `limit` hits come from the newest slices, and the summaries merge
(`Summary.merge`). After each slice, `report` hears how far the search got.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from connector import clock
from connector.indicators.match import Indicator
from connector.search import partitions
from connector.search.query import Searcher, log_type_names
from connector.search.results import Found, Window

SLICES = 8
DAY = timedelta(days=1)
MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True)
class Progress:
    """How far a search got: objects searched of those in its window, the matches found
    in them (`complete` False when a part only counted "at least"), and the time range
    those objects cover (`since` to the window's end)."""

    searched: int
    objects: int
    matches: int
    complete: bool
    since: datetime
    until: datetime

    def phrase(self) -> str:
        at_least = "" if self.complete else "at least "
        since, until = (clock.rfc3339(int(t.timestamp())) for t in (self.since, self.until))
        covered = f" ({since} to {until})" if self.searched else ""
        return (
            f"searched {self.searched} of {self.objects} object(s){covered}, "
            f"{at_least}{self.matches} matching event(s) so far"
        )


Report = Callable[[Progress], None]


def windows(window: Window, slices: int = SLICES) -> list[Window]:
    """The window cut at UTC midnights into at most `slices` parts, newest first."""
    first = datetime(window.since.year, window.since.month, window.since.day, tzinfo=UTC)
    days = (window.until - first) // DAY + 1
    step = DAY * -(-days // slices)
    edges = [first + step * k for k in range(1, slices) if first + step * k <= window.until]
    starts = [window.since, *(e for e in edges if e > window.since)]
    ends = [*(s - MICROSECOND for s in starts[1:]), window.until]
    return [Window(s, e) for s, e in zip(reversed(starts), reversed(ends), strict=True)]


def find(
    searcher: Searcher,
    indicators: Sequence[Indicator],
    window: Window,
    limit: int,
    report: Report,
) -> Found:
    """`searcher.find(indicators, window, limit=limit)`, slice by slice, newest first."""
    files = searcher.files(window, log_type_names())
    if not files:
        return searcher.find(indicators, window, limit=limit)  # raises its SearchError
    seen: set[str] = set()
    found: Found | None = None
    for part in windows(window):
        inside = partitions.prune(files, part.since, part.until)
        if inside:
            found = _fold(found, searcher.find(indicators, part, limit=limit), limit)
        seen.update(inside)
        total = found.total if found else 0
        complete = found.complete if found else True
        report(Progress(len(seen), len(files), total, complete, part.since, window.until))
    assert found is not None
    return Found(found.hits, found.summaries, window, (), limit, found.matched)


def _fold(older: Found | None, newer: Found, limit: int) -> Found:
    """`older` holds the newer slices (searched first): its hits come first."""
    if older is None:
        return newer
    for mine, theirs in zip(older.summaries, newer.summaries, strict=True):
        mine.merge(theirs)
    matched = older.total + newer.total
    return Found(
        (older.hits + newer.hits)[:limit], older.summaries, older.window, (), limit, matched
    )
