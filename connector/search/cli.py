"""`slack-connector search`: parse the analyst's arguments, search, print."""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TextIO

from connector import clock
from connector.config import Settings
from connector.search import render
from connector.search.indicators import IndicatorError, parse
from connector.search.query import Searcher, SearchError, Window

_AGE = re.compile(r"^(\d+)([dhm])$")
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}


def when(text: str) -> datetime:
    """`7d`, `12h`, `30m` ago, or a UTC date or time (`2026-11-01`, `...T12:00:00Z`)."""
    if match := _AGE.match(text.strip()):
        return clock.now() - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    dt = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


Say = Callable[[str, TextIO], None]


def run(settings: Settings, args: argparse.Namespace, say: Say, out: TextIO, err: TextIO) -> int:
    """`say` prints a line scrubbed of secrets (the CLI's one printer)."""
    try:
        indicators = [parse(text) for text in args.indicators]
        window = Window.last(
            when(args.since) if args.since else None, when(args.until) if args.until else None
        )
    except (IndicatorError, ValueError) as exc:
        say(f"slack-connector: search: {exc}", err)
        return 2
    if args.limit < 1 or window.since > window.until:
        say("slack-connector: search: need --limit >= 1 and --since before --until", err)
        return 2
    try:
        searcher = Searcher(settings.output)
        try:
            hits = searcher.search(indicators, window, args.log_types, args.limit)
        finally:
            searcher.close()
    except SearchError as exc:
        say(f"slack-connector: search: {exc}", err)
        return 1
    if args.format == "json":
        if hits:
            say(render.ndjson(hits), out)
    else:
        say(render.table(hits), out)
        say(f"{len(hits)} matching event(s)", err)
    return 0
