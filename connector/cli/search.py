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
from connector.search.query import Searcher
from connector.search.results import Found, Hit, SearchError, Window
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
    if args.limit < 0 or window.since > window.until:
        say("slack-connector: search: need --limit >= 0 and --since before --until", err)
        return 2
    try:
        searcher = Searcher(settings.output if settings else OutputConfig(path=args.path))
        try:
            if args.all or args.limit == 0:
                return _export(settings, searcher, indicators, window, args, say, out, err)
            found = searcher.find(
                indicators, window, args.log_types, args.limit, tally=args.summary
            )
        finally:
            searcher.close()
    except SearchError as exc:
        say(f"slack-connector: search: {exc}", err)
        return 1
    if args.summary:
        _say_summaries(found, _watched_for(settings, indicators, say, err), args.format, say, out)
    if args.format == "json":
        if found.hits:
            say(render.ndjson(found.hits), out)
        if not (found.complete and len(found.hits) == found.total):
            say(orjson.dumps({"cut": _cut(found, args)}).decode(), out)
    else:
        say(render.table(found.hits), out)
        say(_count(found, args), err)
    return 0


def _watched_for(
    settings: Settings | None, indicators: list[Indicator], say: Say, err: TextIO
) -> summary.Watched:
    return _watched(settings, indicators, say, err) if settings else summary.not_watched


def _say_summaries(
    found: Found, watched: summary.Watched, form: str, say: Say, out: TextIO
) -> None:
    if form == "json":
        heads = [s.as_dict(watched(s.indicator)) for s in found.summaries]
        say(orjson.dumps({"summary": heads}).decode(), out)
        return
    say("\n".join(line for s in found.summaries for line in s.lines(watched(s.indicator))), out)
    say("", out)


def _export(
    settings: Settings | None,
    searcher: Searcher,
    indicators: list[Indicator],
    window: Window,
    args: argparse.Namespace,
    say: Say,
    out: TextIO,
    err: TextIO,
) -> int:
    """`--all`: every match, newest first, printed as found (constant memory)."""
    from connector.search.export import stream

    if args.summary:
        found = searcher.find(indicators, window, args.log_types, 1, tally=True)
        watched = _watched_for(settings, indicators, say, err)
        _say_summaries(found, watched, args.format, say, out)
    shown = 0
    chunk: list[Hit] = []
    for hit in stream(searcher, indicators, window, args.log_types):
        shown += 1
        if args.format == "json":
            say(render.ndjson([hit]), out)
            continue
        chunk.append(hit)
        if len(chunk) == EXPORT_CHUNK:
            _table_chunk(chunk, shown == len(chunk), say, out)
            chunk = []
    if chunk or (args.format != "json" and not shown):
        _table_chunk(chunk, shown == len(chunk), say, out)
    say(f"{shown} matching event(s)", err)
    return 0


EXPORT_CHUNK = 500


def _table_chunk(hits: list[Hit], first: bool, say: Say, out: TextIO) -> None:
    """A table of a chunk of an export; the header only above the first."""
    text = render.table(hits)
    say(text if first else text.split("\n", 1)[-1], out)


def _cut(found: Found, args: argparse.Namespace) -> dict[str, object]:
    """What a JSON answer cut at `--limit` says last: how many were shown of how many
    (None when the scan stopped counting), and the command that prints them all."""
    return {
        "shown": len(found.hits),
        "total": found.total if found.complete else None,
        "all_of_them": summary.rest_command(found, args.config, args.path),
    }


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
    from connector.watchlist.watched import watched_in
    from connector.watchlist.watchlist import Watchlist

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
