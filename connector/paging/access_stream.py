"""The access-log stream: cursor mode when Slack answers it, classic pages when not.

* Which transport works, how the listing is sorted and which field `before` filters are
  learned per source and kept in the checkpoint (`connector.paging.learned`); the
  checkpoint is `AccessCheckpoint`, owned here.
* Backlogs (a first run, or a walk a stopped poll left) ask for the largest page Slack
  allows; steady state uses the configured page size.
* In a backlog every page's checkpoint says where the walk goes on, so a first run over
  a large lookback commits as it goes and a restart resumes there; the keys written
  commit with it, so every row still lands once. A steady-state poll (a few pages)
  commits once, at its end, so it writes one object per partition.
* A walk that must begin again raises `WalkRestart`; one that cannot reach past the page
  cap fails the poll and starts again from the top next time (its rows so far are
  written); sorted by `date_first` and filtered by `date_last` it records why, with the
  configuration that fixes it, for `check` and `state show`.
* The watermark moves only when a walk ends, to the newest `date_last` of the walk's
  first page: a walk of many minutes misses rows that arrive at the top meanwhile, and
  they are all newer than that (the next poll reads them); a row deeper down with a later
  `date_last` must not move it past them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

from connector.paging import limits
from connector.paging.classic import ClassicWalk
from connector.paging.cursor_walk import CURSOR, CursorRefused, CursorWalk
from connector.paging.guard import PagingLimitError
from connector.paging.learned import FIRST, LAST, Learned, Proven
from connector.paging.requester import Requester
from connector.paging.stop import LastRowBefore
from connector.paging.travel import Unreachable
from connector.paging.walk import WalkPosition, WalkRestart
from connector.paging.watermark import Watermark, Watermarked
from connector.slack.client import SlackClient
from connector.slack.errors import SlackApiError
from connector.stream.contract import Page, PollContext, Raw

log = logging.getLogger(__name__)
CLASSIC = "classic"


class UnfinishedWalk(WalkPosition):
    """A backlog walk a stopped poll left: where it goes on, on which transport, and the
    newest `date_last` of its first page (`top`: the watermark once it ends)."""

    mode: str
    top: float | None = None


class AccessCheckpoint(Watermarked):
    kind: ClassVar[str] = "access"
    paging: Proven = Proven()
    walk: UnfinishedWalk | None = None

    def warning(self) -> str | None:
        """What `check` and `state show` say about a source whose rows cannot all be reached."""
        return self.paging.unreachable


@dataclass(frozen=True)
class AccessStream:
    requester: Requester
    stop: LastRowBefore
    checkpoint: ClassVar[type[AccessCheckpoint]] = AccessCheckpoint

    def pages(self, ctx: PollContext) -> Iterator[Page]:
        kept = AccessCheckpoint.load(ctx.checkpoint)
        learned = Learned.of(kept.paging if kept else None)
        base = Watermark(LAST, ctx, kept).state()
        mark = Watermark(LAST, ctx, kept)
        stop = self.stop(mark.start)
        stop.sorted_by_other = learned.sorted_by == FIRST
        walk = kept.walk if kept else None
        backlog = walk is not None or kept is None or kept.newest is None
        count = (
            limits.MAX_COUNT
            if backlog
            else min(ctx.page_size or limits.MAX_COUNT, limits.MAX_COUNT)
        )
        mode = walk.mode if walk else learned.mode or CURSOR
        at = WalkPosition(**walk.model_dump()) if walk else WalkPosition(count=count)
        top = walk.top if walk else None
        if top is not None:
            mark.observe([{LAST: top}])
        fresh, restarts = walk is None, 0
        while True:
            try:
                if mode == CURSOR:
                    steps = CursorWalk(self.requester).walk(ctx, learned, stop, at, restarts)
                else:
                    steps = ClassicWalk(self.requester).walk(ctx, learned, stop, at)
                for records, then in steps:
                    learned.mode = mode
                    if fresh:
                        top, fresh = _top(records, mark), False
                    if then is None:
                        learned.unreachable = None
                        yield Page(
                            records, AccessCheckpoint(**mark.state(), paging=learned.proven())
                        )
                        return
                    if not backlog:
                        yield Page(records)
                        continue
                    left = UnfinishedWalk(**then.model_dump(), mode=mode, top=top)
                    yield Page(
                        records, AccessCheckpoint(**base, paging=learned.proven(), walk=left)
                    )
                    del records
                return
            except WalkRestart as restart:
                learned.mode = mode
                at, fresh, restarts = WalkPosition(count=restart.count), True, restart.restarts
            except CursorRefused:
                log.info(
                    "team.accessLogs refused cursor paging; classic pages from now on",
                    extra={"source_id": ctx.source_id},
                )
                mode, learned.mode, at, fresh = CLASSIC, CLASSIC, WalkPosition(count=count), True
            except PagingLimitError as exc:
                if isinstance(exc, Unreachable):
                    learned.unreachable = exc.detail
                log.error(
                    "access logs unreachable past the page cap",
                    extra={"source_id": ctx.source_id, "error": exc.detail},
                )
                yield Page([], AccessCheckpoint(**base, paging=learned.proven()))
                raise

    def probe(self, client: SlackClient) -> str:
        """Which transport this workspace answers, for `slack-connector check`."""
        try:
            body = self.requester.call(client, {"limit": 1})
        except SlackApiError:
            body = {}
        if isinstance(body.get("response_metadata"), dict):
            return "ok, cursor paging (no page cap)"
        total = (self.requester.call(client, {"count": 1}).get("paging") or {}).get("total", "?")
        return (
            f"ok, {total} rows available; classic paging only (cursor mode refused): past "
            f"{limits.MAX_PAGE} pages the walk time-travels with `before`"
        )


def _top(records: list[Raw], mark: Watermark) -> float | None:
    """The newest trusted `date_last` of a walk's first page; `mark` keeps the larger."""
    mark.observe(records)
    return mark.newest
