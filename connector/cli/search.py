"""`slack-connector search`: parse the analyst's arguments, search, print.

`--summary` puts what an analyst triages by first (see `summary.Summary`), with whether
each indicator is watched, read from the watchlist (config, file and the state store,
opened read-only beside a running daemon).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TextIO

import orjson

from connector import clock
from connector.cli.output import say
from connector.config.errors import ConfigError
from connector.config.settings import OutputConfig, Settings
from connector.indicators.match import Indicator, IndicatorError, parse
from connector.search import render, summary
from connector.search.query import Found, Searcher, SearchError, Window
from connector.state import StateError

_AGE = re.compile(r"^(\d+)([dhm])$")
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}


def when(text: str) -> datetime:
    """`7d`, `12h`, `30m` ago, or a UTC date or time (`2026-11-01`, `...T12:00:00Z`)."""
    if match := _AGE.match(text.strip()):
        return clock.now() - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    try:
        dt = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{text!r} is not a time: give a UTC date or time (2026-11-01, "
            "2026-11-01T12:00:00Z) or an age (30m, 12h, 7d)"
        ) from None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


Say = Callable[[str, TextIO], None]


def run(
    settings: Settings | None, args: argparse.Namespace, say: Say, out: TextIO, err: TextIO
) -> int:
    """`say` prints a line scrubbed of secrets (the CLI's one printer). Without settings
    (`--path DIR`), the local directory is searched and no watchlist is read."""
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
        searcher = Searcher(settings.output if settings else OutputConfig(path=args.path))
        try:
            found = searcher.find(indicators, window, args.log_types, args.limit)
        finally:
            searcher.close()
    except SearchError as exc:
        say(f"slack-connector: search: {exc}", err)
        return 1
    watched = None
    if args.summary:
        watched = _watched(settings, indicators, say, err) if settings else summary.not_watched
    if args.format == "json":
        if watched is not None:
            heads = [s.as_dict(watched(s.indicator)) for s in found.summaries]
            say(orjson.dumps({"summary": heads}).decode(), out)
        if found.hits:
            say(render.ndjson(found.hits), out)
    else:
        if watched is not None:
            say(
                "\n".join(line for s in found.summaries for line in s.lines(watched(s.indicator))),
                out,
            )
            say("", out)
        say(render.table(found.hits), out)
        say(_count(found, args), err)
    return 0


def _count(found: Found, args: argparse.Namespace) -> str:
    shown = len(found.hits)
    if found.complete and shown == found.total:
        return f"{shown} matching event(s)"
    total = str(found.total) if found.complete else "more"
    rest = summary.rest_command(found, args.config, args.path)
    return f"{shown} of {total} matching event(s); all of them: {rest}"


def _watched(
    settings: Settings, indicators: list[Indicator], say: Say, err: TextIO
) -> summary.Watched:
    """Which lists hold each indicator, with who added it, tags and why, read once from
    the watchlist over a read-only store; a watchlist that cannot be read is said, not
    fatal."""
    from connector.search.slash_commands import watched_in
    from connector.search.watchlist import Watchlist

    try:
        store = settings.state.open(replica=False, read_only=True)
    except (StateError, OSError) as exc:
        say(f"slack-connector: search: watchlist not read ({exc})", err)
        return summary.not_watched
    try:
        watched = watched_in(Watchlist(settings.watchlist, store, lambda alert: None))
        known = {i.label: list(watched(i)) for i in indicators}
    except (ConfigError, StateError) as exc:
        say(f"slack-connector: search: watchlist not read ({exc})", err)
        return summary.not_watched
    finally:
        store.close()
    return lambda indicator: known.get(indicator.label, [])


def command(settings: Settings | None, args: argparse.Namespace) -> int:
    return run(settings, args, say, sys.stdout, sys.stderr)
