"""Time-filtered cursor paging (the Audit Logs API), as resumable windows.

* `oldest` is resent on every page: the cursor is only a position and forgets filters.
* The live window has no `latest`: Slack's own "now" bounds it, so a Slack clock ahead of
  the host delivers its newest events at once instead of a clock offset later.
* After each written page the checkpoint records the oldest second written so far
  (`remaining`); a poll that fails halfway resumes that window with `latest = remaining`
  and loses nothing of its older, unread part. Boundary-second repeats dedupe by id.
* The next live window starts at the newest event time received minus the overlap
  (`Watermark`), never at a host-clock time.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from connector.logtypes.base import Checkpoint, Page, PollContext, Raw
from connector.paging.guard import LoopGuard
from connector.paging.requester import Requester
from connector.paging.watermark import Watermark, lowest
from connector.slack.client import SlackClient


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
        cp = ctx.checkpoint or {}
        mark = Watermark(self.field, ctx, legacy="next_oldest")
        left = cp.get("window")
        windows = [(int(left["oldest"]), left["remaining"])] if left else []
        if not windows or windows[0][1] is not None:
            windows.append((mark.start, None))
        covered = cp.get("covered_from", windows[0][0])
        for oldest, latest in windows:
            for records, more, remaining in self.window(ctx, oldest, latest):
                mark.observe(records)
                state: Checkpoint = {**mark.state(), "covered_from": covered}
                if more:
                    state["window"] = {"oldest": oldest, "remaining": remaining}
                yield Page(records, state)
                del records

    def probe(self, client: SlackClient) -> str:
        return self.paginator.requester.probe(client, "entries")
