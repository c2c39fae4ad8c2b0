"""Time-filtered cursor paging (the Audit Logs API), as resumable windows.

* `oldest` is resent on every page: the cursor is only a position and forgets filters.
* The live window has no `latest`: Slack's own "now" bounds it, so a Slack clock ahead of
  the host delivers its newest events at once instead of a clock offset later.
* After each written page the checkpoint records the oldest second written so far
  (`remaining`); a poll that fails halfway resumes that window with `latest = remaining`
  and loses nothing of its older, unread part. Boundary-second repeats dedupe by id.
* The next live window starts at the newest event time received minus the overlap
  (`Watermark`), never at a host-clock time.
* A backfill (`Backfill`) reads one fixed window of the same stream, resumably, under a
  checkpoint of its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

from connector.paging.guard import LoopGuard
from connector.paging.requester import Requester
from connector.paging.watermark import Watermark, Watermarked, lowest
from connector.slack.client import SlackClient
from connector.stream.checkpoint import Checkpoint, Part
from connector.stream.contract import Page, PollContext, Raw


class UnfinishedWindow(Part):
    """A window a poll did not finish: from `oldest` up to `remaining` (None: unbounded)
    is still unread."""

    oldest: int
    remaining: int | None = None


class AuditCheckpoint(Watermarked):
    kind: ClassVar[str] = "audit"
    legacy_start: ClassVar[str] = "next_oldest"
    time_fields: ClassVar[frozenset[str]] = Watermarked.time_fields | {"covered_from", "oldest"}
    covered_from: int | None = None
    """The oldest second the daemon's windows have covered: a backfill stops below it."""
    window: UnfinishedWindow | None = None

    def prune_before(self) -> int | None:
        """No later poll asks for anything older than where its window starts."""
        bound = self.window.oldest if self.window else self.next_oldest
        return int(bound) if bound is not None else None


class BackfillCheckpoint(Checkpoint):
    """A backfill's progress through its fixed window `since`..`until`."""

    kind: ClassVar[str] = "audit:backfill"
    time_fields: ClassVar[frozenset[str]] = frozenset({"since", "until", "remaining"})
    since: int
    until: int
    remaining: int | None = None
    done: bool | None = None

    def resumes(self, since: int) -> int | None:
        """The `until` a rerun from `since` takes to continue this one; None when done."""
        return self.until if self.since == since and not self.done else None

    def fraction(self) -> float:
        """How much of the window is read."""
        if self.done:
            return 1.0
        left = self.until if self.remaining is None else self.remaining
        return (self.until - left) / max(1, self.until - self.since)


@dataclass(frozen=True)
class CursorPages:
    """`next_cursor` paging, guarded against repeated cursors and endless depth."""

    requester: Requester
    max_limit: int
    default_limit: int

    def pages(
        self, ctx: PollContext, params: dict[str, int | None]
    ) -> Iterator[tuple[list[Raw], bool]]:
        """(records, more pages follow) per response."""
        limit = min(ctx.page_size or self.default_limit, self.max_limit)
        guard = LoopGuard(ctx.source_id, self.requester.method)
        cursor = ""
        while True:
            records, body = self.requester.fetch(
                ctx, {**params, "limit": limit, "cursor": cursor or None}
            )
            meta = body.get("response_metadata")
            cursor = str((meta if isinstance(meta, dict) else {}).get("next_cursor") or "")
            yield records, bool(cursor)
            del records, body, meta  # one page in memory: not this one while the next is read
            if not cursor:
                return
            guard.step(cursor)


@dataclass(frozen=True)
class TimeWindows:
    """The audit stream: finish a window a failed poll left, then read from the watermark."""

    paginator: CursorPages
    field: str
    checkpoint: ClassVar[type[AuditCheckpoint]] = AuditCheckpoint

    def window(
        self, ctx: PollContext, oldest: int, latest: int | None
    ) -> Iterator[tuple[list[Raw], bool, int | None]]:
        """(records, more pages follow, the newest second still unread: None is unbounded)."""
        remaining = latest
        for records, more in self.paginator.pages(ctx, {"oldest": oldest, "latest": latest}):
            top = float("inf") if remaining is None else float(remaining)
            low = lowest(records, self.field, oldest, top)
            remaining = remaining if low == float("inf") else int(low)
            yield records, more, remaining
            del records

    def pages(self, ctx: PollContext) -> Iterator[Page]:
        kept = AuditCheckpoint.load(ctx.checkpoint)
        mark = Watermark(self.field, ctx, kept)
        left = kept.window if kept else None
        windows = [(left.oldest, left.remaining)] if left else []
        if not windows or windows[0][1] is not None:
            windows.append((mark.start, None))
        covered = kept.covered_from if kept and kept.covered_from is not None else windows[0][0]
        for oldest, latest in windows:
            for records, more, remaining in self.window(ctx, oldest, latest):
                mark.observe(records)
                unfinished = UnfinishedWindow(oldest=oldest, remaining=remaining) if more else None
                state = AuditCheckpoint(**mark.state(), covered_from=covered, window=unfinished)
                yield Page(records, state)
                del records

    def probe(self, client: SlackClient) -> str:
        return self.paginator.requester.probe(client, "entries")


@dataclass(frozen=True)
class Backfill:
    """One fixed window of the audit stream, newest first, resumable: a rerun with the same
    window continues where an interrupted one stopped, and a finished one reads nothing."""

    windows: TimeWindows
    since: int
    until: int
    checkpoint: ClassVar[type[BackfillCheckpoint]] = BackfillCheckpoint

    def pages(self, ctx: PollContext) -> Iterator[Page]:
        kept = BackfillCheckpoint.load(ctx.checkpoint)
        same = kept is not None and (kept.since, kept.until) == (self.since, self.until)
        if kept is not None and same and kept.done:
            return
        upper = self.until
        if kept is not None and same and kept.remaining is not None:
            upper = kept.remaining
        for records, more, remaining in self.windows.window(ctx, self.since, upper):
            state = BackfillCheckpoint(
                since=self.since,
                until=self.until,
                remaining=remaining if more else None,
                done=None if more else True,
            )
            yield Page(records, state)
            del records

    def probe(self, client: SlackClient) -> str:
        return self.windows.probe(client)
