"""`slack-connector backfill`: pull a historical audit window for one source.

The window is read newest first with the daemon's own machinery (client, rate budgets,
the audit stream's `Backfill`, pipeline and its unit of work, `connector.state.unit`),
so it is deduplicated against what the daemon landed, crash-safe like a poll, and
resumable: its progress is a checkpoint of its own (`BackfillCheckpoint`, stored as
`audit:backfill`), and a rerun with the same window continues where an interrupted one
stopped. A rerun without `--until` takes the interrupted run's
end, not a new "now", so it resumes instead of starting over. The part of the window
the daemon already covers is skipped.

Only the Audit Logs API can filter by time; access and integration logs have no
history to backfill beyond what their first poll reads.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from datetime import UTC, datetime
from typing import TextIO

from connector import clock
from connector.cli.output import say
from connector.config.settings import Settings
from connector.ingest.pipeline import PollResult
from connector.logtypes.audit import AuditLogs
from connector.logtypes.base import Page
from connector.paging.window import AuditCheckpoint, Backfill, BackfillCheckpoint
from connector.service.app import App
from connector.service.runner import SourceRunner
from connector.state import StateStore


class AuditBackfill(AuditLogs):
    """The audit log type reading one fixed window (`Backfill`) under its own checkpoint."""

    def __init__(self, since: int, until: int) -> None:
        self.stream = Backfill(AuditLogs.stream, since, until)  # type: ignore[assignment,misc]

    @property
    def checkpoint_key(self) -> str:
        return BackfillCheckpoint.kind


def parse_date(text: str) -> int:
    """`2026-11-01`, `2026-11-01T12:00:00Z` or unix seconds, always read as UTC."""
    if text.isdigit():
        return int(text)
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{text!r} is not a time: give a UTC date or time (2026-11-01, "
            "2026-11-01T12:00:00Z) or unix seconds"
        ) from None
    return int((dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp())


def resumable_until(store: StateStore, source_id: str, since: int) -> int:
    """The end of an interrupted backfill from `since`, else now."""
    kept = BackfillCheckpoint.load(store.checkpoint(source_id, BackfillCheckpoint.kind))
    until = kept.resumes(since) if kept else None
    return clock.now_ts() if until is None else until


def run(
    runner: SourceRunner, since: int, until: int | None, out: TextIO | None = None
) -> PollResult | None:
    """The backfilled result, or None when the daemon already covers the whole window."""
    out = out or sys.stderr
    store = runner.store
    until = min(until or resumable_until(store, runner.cfg.id, since), clock.now_ts())
    daemon = AuditCheckpoint.load(store.checkpoint(runner.cfg.id, AuditLogs.name))
    if daemon and daemon.covered_from is not None:
        until = min(until, daemon.covered_from - 1)
    if until < since:
        print("nothing to do: the daemon already covers this window", file=out)
        return None
    logtype = AuditBackfill(since, until)
    started = time.monotonic()
    done = 0.0

    def progress(result: PollResult, page: Page) -> None:
        nonlocal done
        if isinstance(page.checkpoint, BackfillCheckpoint):
            done = page.checkpoint.fraction()
        elapsed = time.monotonic() - started
        rate = result.fetched / elapsed if elapsed else 0.0
        eta = elapsed * (1 - done) / done if done > 0 else float("nan")
        bar = "#" * int(done * 30)
        print(
            f"\r[{bar:<30}] {done:6.1%} {result.fetched} events {result.pages} pages "
            f"{rate:,.0f}/s ETA {eta:,.0f}s",
            end="",
            file=out,
            flush=True,
        )

    result = runner.pipeline.poll(
        runner.source, logtype, runner.context(clock.now_ts()), progress=progress
    )
    print(
        f"\nbackfill {runner.cfg.id} {_iso(since)} .. {_iso(until)}: "
        f"written={result.written} duplicates={result.duplicates} "
        f"quarantined={result.quarantined} objects={result.objects}",
        file=out,
    )
    return result


def _iso(ts: int) -> str:
    return clock.rfc3339(ts)


def command(settings: Settings, args: argparse.Namespace) -> int:
    try:
        since = parse_date(args.since)
        until = parse_date(args.until) if args.until else None
    except ValueError as exc:
        say(f"slack-connector: backfill: bad date: {exc}", sys.stderr)
        return 2
    app = App(settings)
    try:
        runner = app.runners.get(args.source)
        if runner is None or "audit" not in runner.cfg.log_types:
            say(f"slack-connector: backfill: no source {args.source!r} with audit logs", sys.stderr)
            return 2
        app.store.claim([(args.source, "audit")], everything=True)
        if not app.store.owns(args.source, "audit"):
            say(
                f"slack-connector: backfill: a running replica holds the audit lease of "
                f"{args.source!r}; stop the replicas and rerun",
                sys.stderr,
            )
            return 1
        signal.signal(signal.SIGINT, lambda *_: app.stop.set())
        signal.signal(signal.SIGTERM, lambda *_: app.stop.set())
        run(runner, since, until)
        return 0
    except Exception as exc:  # noqa: BLE001 - report, the checkpoint already holds progress
        say(f"\nslack-connector: backfill stopped: {exc}; rerun to resume", sys.stderr)
        return 1
    finally:
        app.close()
