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
left to the per-object indexes. It then deletes the index files no search reads any
more (`connector.search.gc`: the per-object indexes of the objects a chosen day file
covers, and the day files it supersedes) once that file is older than `--grace`
(default 1 h); `--gc` does only that, `--keep` skips it.
"""

from __future__ import annotations

import argparse
import gzip
import re
import sys
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

import duckdb

from connector import clock
from connector.cli.output import say
from connector.cli.search import when
from connector.config.settings import Settings
from connector.search import compact, gc, inventory
from connector.search.index import SearchIndex
from connector.search.query import Searcher, log_type_names
from connector.search.results import SearchError, Window
from connector.sinks import build
from connector.sinks.base import Sink, SinkError


@dataclass(frozen=True)
class Job:
    """What an `index` run does: list its work (`todo`), then write each item, counting
    its rows (`write`)."""

    todo: Callable[[Searcher, Window, list[str]], Sequence[Any]]
    write: Callable[[Sink, str, Any], int]
    noun: str
    verb: str


def _missing(searcher: Searcher, window: Window, log_types: list[str]) -> list[str]:
    """The objects without a per-object index, but those a day file a search chooses
    covers (their index was deleted by `search.gc`: nothing would read it)."""
    days = inventory.days(searcher, window, log_types)
    present = {
        f"{searcher.root}/{key}"
        for day, keys in days.items()
        if not day.endswith("/")
        for key in keys
    }
    files = [
        f"{searcher.root}/{key}" for day, keys in days.items() if day.endswith("/") for key in keys
    ]
    chosen = compact.choose(searcher.db, files, present, searcher.root)
    covered = {path for paths in chosen.values() for path in paths}
    base = len(searcher.root) - len(searcher.output.prefix)
    return [
        key
        for key in inventory.unindexed(searcher, window, log_types)
        if f"{searcher.root[:base]}{key}" not in covered
    ]


def _index_one(sink: Sink, prefix: str, key: str) -> int:
    rows = 0
    for obj in SearchIndex(sink, prefix).derive(key, gzip.decompress(sink.get(key))):
        obj.sink.put(obj.key, obj.body)
        rows += obj.counts.get("indexed_rows", 0)
    return rows


def _closed_days(
    searcher: Searcher, window: Window, log_types: list[str]
) -> list[tuple[str, list[str]]]:
    return compact.todo(
        inventory.days(searcher, window, log_types), clock.rfc3339(clock.now_ts())[:10]
    )


def _compact_one(sink: Sink, prefix: str, day: tuple[str, list[str]]) -> int:
    name, objects = day
    rows = 0

    def read(key: str) -> bytes:
        nonlocal rows
        body = gzip.decompress(sink.get(_under(prefix, key)))
        rows += body.count(b"\n")
        return body

    sink.put(_under(prefix, compact.name(name, objects)), compact.build(objects, read))
    return rows


_AGE = re.compile(r"^(\d+)([smhd]?)$")
_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def _seconds(text: str | None) -> float:
    """`--grace`: `90s`, `30m`, `1h`, `2d` or a number of seconds; unset: `gc.GRACE_SECONDS`."""
    if text is None:
        return gc.GRACE_SECONDS
    match = _AGE.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not an age: give 0, 90s, 30m, 1h or 2d")
    return int(match.group(1)) * _SECONDS[match.group(2)]


def _under(prefix: str, key: str) -> str:
    return f"{prefix}/{key}" if prefix else key


JOBS = {
    False: Job(_missing, _index_one, "object", "indexed"),
    True: Job(_closed_days, _compact_one, "day", "compacted"),
}
"""By `--compact`."""


def _collect(
    settings: Settings, window: Window, args: argparse.Namespace, grace: float, out: TextIO
) -> None:
    """Delete the index files no search reads (`search.gc`) whose covering day file is
    older than the grace; raises `SearchError`, `SinkError`, `duckdb.Error`."""
    searcher = Searcher(settings.output)
    try:
        folders = log_type_names(args.log_types)
        present = set(searcher.files(window, folders))
        blobs = gc.listing(searcher.db, searcher.root, window, folders)
        now_us = int(clock.now().timestamp() * 1_000_000)
        doomed = gc.plan(searcher.db, searcher.root, present, blobs, now_us, grace)
    finally:
        searcher.close()
    sink = build(settings.output)
    try:
        done = gc.sweep(
            doomed, searcher.root, lambda key: sink.delete(_under(settings.output.prefix, key))
        )
    finally:
        sink.close()
    say(
        f"deleted {done} index file(s) no search reads ({doomed.bytes} bytes); "
        f"{doomed.waiting} more once their day file is {grace:g} s old",
        out,
    )


def run(settings: Settings, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    try:
        window = Window.last(when(args.since), when(args.until) if args.until else None)
    except ValueError as exc:
        say(f"slack-connector: index: {exc}", err)
        return 2
    if getattr(args, "gc", False):
        return _collected(settings, window, args, out, err)
    job = JOBS[bool(getattr(args, "compact", False))]
    try:
        searcher = Searcher(settings.output)
        try:
            todo = job.todo(searcher, window, args.log_types)
        finally:
            searcher.close()
    except SearchError as exc:
        say(f"slack-connector: index: {exc}", err)
        return 1
    sink = build(settings.output)
    done = rows = 0
    try:
        for item in todo:
            rows += job.write(sink, settings.output.prefix, item)
            done += 1
    except (SinkError, OSError, EOFError, zlib.error) as exc:
        say(f"slack-connector: index: stopped after {done} {job.noun}(s): {exc}", err)
        return 1
    finally:
        sink.close()
    say(f"{job.verb} {done} {job.noun}(s), {rows} row(s); {len(todo) - done} left", out)
    if getattr(args, "compact", False) and not getattr(args, "keep", False):
        return _collected(settings, window, args, out, err)
    return 0


def _collected(
    settings: Settings, window: Window, args: argparse.Namespace, out: TextIO, err: TextIO
) -> int:
    try:
        grace = _seconds(getattr(args, "grace", None))
    except ValueError as exc:
        say(f"slack-connector: index: --grace: {exc}", err)
        return 2
    try:
        _collect(settings, window, args, grace, out)
    except (SearchError, SinkError, duckdb.Error) as exc:
        say(f"slack-connector: index: cannot delete unread index files: {exc}", err)
        return 1
    return 0


def command(settings: Settings, args: argparse.Namespace) -> int:
    return run(settings, args, sys.stdout, sys.stderr)
