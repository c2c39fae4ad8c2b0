"""`slack-connector index`: write the search index of objects that landed without one.

Objects landed before indexing (or with `[output] search_index = false`) are searched by
a scan; this builds their indexes (`connector.search.index`), one object at a time, each
written whole by the sink, so an interrupted run resumes where it stopped: the objects
already indexed are not listed again. Safe beside a running daemon (both write the same
bytes for the same object).

`--compact` writes each closed day's compacted index (`connector.search.compact`): one
file per partition-day and log type holding every key of the day's objects with its
exact postings, so a month is searched from ~30 files. A day is compacted once every
object it holds is covered; a rerun (or a replica racing) writes the same key with the
same bytes for the same objects, and a day whose objects changed gets a new file
covering them all (searches take the one covering most). Days not yet over (UTC) are
left to the per-object indexes.
"""

from __future__ import annotations

import argparse
import gzip
import sys
import zlib
from typing import TextIO

from connector import clock
from connector.cli.output import say
from connector.cli.search import when
from connector.config.settings import Settings
from connector.search import compact
from connector.search.index import SearchIndex
from connector.search.query import Searcher
from connector.search.results import SearchError, Window
from connector.sinks import build
from connector.sinks.base import SinkError


def run(settings: Settings, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if getattr(args, "compact", False):
        return run_compact(settings, args, out, err)
    try:
        window = Window.last(when(args.since), when(args.until) if args.until else None)
    except ValueError as exc:
        say(f"slack-connector: index: {exc}", err)
        return 2
    try:
        searcher = Searcher(settings.output)
        try:
            missing = searcher.unindexed(window, args.log_types)
        finally:
            searcher.close()
    except SearchError as exc:
        say(f"slack-connector: index: {exc}", err)
        return 1
    sink = build(settings.output)
    output = SearchIndex(sink, settings.output.prefix)
    done = rows = 0
    try:
        for key in missing:
            ndjson = gzip.decompress(sink.get(key))
            for obj in output.derive(key, ndjson):
                obj.sink.put(obj.key, obj.body)
                rows += obj.counts.get("indexed_rows", 0)
            done += 1
    except (SinkError, OSError, EOFError, zlib.error) as exc:
        say(f"slack-connector: index: stopped after {done} object(s): {exc}", err)
        return 1
    finally:
        sink.close()
    say(f"indexed {done} object(s), {rows} row(s); {len(missing) - done} left", out)
    return 0


def command(settings: Settings, args: argparse.Namespace) -> int:
    return run(settings, args, sys.stdout, sys.stderr)


def run_compact(settings: Settings, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    try:
        window = Window.last(when(args.since), when(args.until) if args.until else None)
    except ValueError as exc:
        say(f"slack-connector: index: {exc}", err)
        return 2
    try:
        searcher = Searcher(settings.output)
        try:
            days = searcher.days(window, args.log_types)
        finally:
            searcher.close()
    except SearchError as exc:
        say(f"slack-connector: index: {exc}", err)
        return 1
    today = clock.rfc3339(clock.now_ts())[:10]
    todo = compact.todo(days, today)
    prefix = settings.output.prefix
    sink = build(settings.output)
    done = rows = 0
    try:
        for day, objects in todo:
            bodies = [(key, gzip.decompress(sink.get(_under(prefix, key)))) for key in objects]
            sink.put(_under(prefix, compact.name(day, objects)), compact.build(bodies))
            rows += sum(body.count(b"\n") for _, body in bodies)
            done += 1
    except (SinkError, OSError, EOFError, zlib.error) as exc:
        say(f"slack-connector: index: stopped after {done} day(s): {exc}", err)
        return 1
    finally:
        sink.close()
    say(f"compacted {done} day(s), {rows} row(s); {len(todo) - done} left", out)
    return 0


def _under(prefix: str, key: str) -> str:
    return f"{prefix}/{key}" if prefix else key
