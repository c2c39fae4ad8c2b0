"""Every match of a search, newest first, at constant memory (`search --all`).

The newest `limit` hits of `Searcher.find` are kept in memory; an export of every match
cannot be. Objects are taken one partition at a time, newest partition first: the matches
of one partition (an hour or a day of one log type) are found, sorted and handed on, then
dropped. Partitions of one length never overlap in time, so each (log type, partition
length) is a stream in time order, and the streams are merged by time; objects without
a date partition form a stream of their own. Memory is what one partition of each stream
matches, whatever the window.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Sequence
from datetime import datetime

from connector.indicators.match import Indicator
from connector.search import partitions
from connector.search.query import Searcher, log_type_names
from connector.search.results import Hit, Window

Group = tuple[str, float]
"""(log type folder, partition length in seconds; 0 for objects without a partition)."""


def stream(
    searcher: Searcher,
    indicators: Sequence[Indicator],
    window: Window,
    log_types: Sequence[str] = (),
) -> Iterator[Hit]:
    """Every match, newest first (ties in object order); raises `SearchError`."""
    indicators = list({i.label: i for i in indicators}.values())
    files = searcher.files(window, log_type_names(log_types))
    groups: dict[Group, dict[datetime | None, list[str]]] = {}
    for path in files:
        span = partitions.span(path)
        length = (span[1] - span[0]).total_seconds() if span else 0.0
        folder = path[len(searcher.root) + 1 :].split("/", 1)[0]
        groups.setdefault((folder, length), {}).setdefault(span[0] if span else None, []).append(
            path
        )
    streams = [_in_order(searcher, by_start, indicators, window) for by_start in groups.values()]
    yield from heapq.merge(*streams, key=lambda hit: _time(hit, window), reverse=True)


def _in_order(
    searcher: Searcher,
    by_start: dict[datetime | None, list[str]],
    indicators: Sequence[Indicator],
    window: Window,
) -> Iterator[Hit]:
    starts = sorted(by_start, key=lambda s: (s is not None, s), reverse=True)
    for start in starts:
        hits = searcher.matches(by_start[start], indicators, window)
        hits.sort(key=lambda hit: _time(hit, window), reverse=True)
        yield from hits


def _time(hit: Hit, window: Window) -> datetime:
    return hit.when or window.since
