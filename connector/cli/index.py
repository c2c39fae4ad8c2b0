"""`slack-connector index`: write the search index of objects that landed without one.

Objects landed before indexing (or with `[output] search_index = false`) are searched by
a scan; this builds their indexes (`connector.search.index`), one object at a time, each
written whole by the sink, so an interrupted run resumes where it stopped: the objects
already indexed are not listed again. Safe beside a running daemon (both write the same
bytes for the same object).
"""

from __future__ import annotations

import argparse
import gzip
import sys
import zlib
from typing import TextIO

from connector.cli.output import say
from connector.cli.search import when
from connector.config.settings import Settings
from connector.search.index import SearchIndex
from connector.search.query import Searcher
from connector.search.results import SearchError, Window
from connector.sinks import build
from connector.sinks.base import SinkError


def run(settings: Settings, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
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
