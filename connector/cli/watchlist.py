"""`slack-connector watchlist show`: every watched indicator and where it came from.

Opens the state store read-only and without the lock (as `state show` does), so it is
safe beside a running daemon.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import asdict
from pathlib import Path
from typing import TextIO

import orjson

from connector.cli.output import say
from connector.config.errors import ConfigError
from connector.config.settings import Settings
from connector.state import StateError, StateStore
from connector.state.sqlite import StateStore as SqliteStore
from connector.watchlist.provenance import Entry
from connector.watchlist.watchlist import Watchlist

Say = Callable[[str, TextIO], None]


def run(settings: Settings, args: argparse.Namespace, say: Say, out: TextIO, err: TextIO) -> int:
    with ExitStack() as scratch:
        try:
            store = settings.state.open(read_only=True)
        except StateError as exc:
            if "no state file yet" not in str(exc):
                raise
            say(f"no state yet at {settings.state.location}: configured indicators only", err)
            empty = scratch.enter_context(tempfile.TemporaryDirectory())
            store = SqliteStore(str(Path(empty) / "state.db"))
        return _show(settings, args, store, say, out, err)


def _show(
    settings: Settings,
    args: argparse.Namespace,
    store: StateStore,
    say: Say,
    out: TextIO,
    err: TextIO,
) -> int:
    try:
        try:
            watchlist = Watchlist(settings.watchlist, store, lambda alert: None)
        except ConfigError as exc:
            say(f"slack-connector: watchlist: {exc}", err)
            return 2
        every, _ = watchlist.show()
        shown = [s for s in every if not args.list or _in(s[2], args.list)]
        titles = watchlist.provenance.titles([e for _, _, es in shown for e in es])
    finally:
        store.close()
    for label, origin, entries in shown:
        if args.format == "json":
            rows = [{**asdict(e), "report_title": titles.get(e.report, "")} for e in entries]
            say(orjson.dumps({"indicator": label, "origin": origin, "entries": rows}).decode(), out)
            continue
        say(f"{label}  ({origin})", out)
        for entry in entries:
            say(f"    {entry.describe(titles)}", out)
    if args.format != "json":
        lists = ", ".join(
            f"{n.name} (owners: {', '.join(n.owners) or 'anyone allowed'})"
            for n in settings.watchlist.lists
        )
        say(f"{len(shown)} indicator(s); lists: {lists}", err)
    return 0


def _in(entries: list[Entry], name: str) -> bool:
    return any(e.list == name for e in entries)


def command(settings: Settings, args: argparse.Namespace) -> int:
    return run(settings, args, say, sys.stdout, sys.stderr)
