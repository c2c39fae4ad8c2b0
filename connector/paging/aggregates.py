"""The access-log stream: cursor mode when Slack answers it, classic pages when not.

* Which transport works, how the listing is sorted and which field `before` filters are
  learned per source and kept in the checkpoint (`connector.paging.learned`).
* Backlogs (a first run, or a walk a stopped poll left) ask for the largest page Slack
  allows; steady state uses the configured page size.
* In a backlog every page's checkpoint says where the walk goes on, so a first run over
  a large lookback commits as it goes and a restart resumes there; the keys written
  commit with it, so every row still lands once. A steady-state poll (a few pages)
  commits once, at its end, so it writes one object per partition.
* A walk that cannot reach past the page cap fails the poll and starts again from the
  top next time (its rows so far are written); sorted by `date_first` and filtered by
  `date_last` it records why, with the configuration that fixes it, for `check` and
  `state show`.
* The watermark moves only when a walk ends, to the newest `date_last` of the walk's
  first page: a walk of many minutes misses rows that arrive at the top meanwhile, and
  they are all newer than that (the next poll reads them); a row deeper down with a later
  `date_last` must not move it past them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from connector.logtypes.base import Checkpoint, Page, PollContext, Raw
from connector.paging import limits
from connector.paging.classic import At, ClassicWalk
from connector.paging.cursor_walk import CURSOR, CursorRefused, CursorWalk
from connector.paging.guard import PagingLimitError
from connector.paging.learned import FIRST, LAST, Learned
from connector.paging.requester import Requester
from connector.paging.stop import LastRowBefore
from connector.paging.travel import Unreachable
from connector.paging.watermark import Watermark
from connector.slack.client import SlackClient
from connector.slack.errors import SlackApiError

log = logging.getLogger(__name__)
CLASSIC = "classic"


@dataclass(frozen=True)
class Aggregates:
    requester: Requester
    stop: LastRowBefore

    def pages(self, ctx: PollContext) -> Iterator[Page]:
        cp = ctx.checkpoint or {}
        learned = Learned.of(cp)
        base = Watermark(LAST, ctx).state()
        mark = Watermark(LAST, ctx)
        stop = self.stop(mark.start)
        stop.sorted_by_other = learned.sort == FIRST
        walk: dict[str, Any] | None = cp.get("walk") if isinstance(cp.get("walk"), dict) else None
        backlog = walk is not None or "newest" not in cp
        count = (
            limits.MAX_COUNT
            if backlog
            else min(ctx.page_size or limits.MAX_COUNT, limits.MAX_COUNT)
        )
        mode = str(walk.get("mode")) if walk else learned.mode or CURSOR
        at: At = dict(walk) if walk else {"count": count}
        top = walk.get("top") if walk else None
        if top is not None:
            mark.observe([{LAST: top}])
        fresh = walk is None
        while True:
            walker = CursorWalk(self.requester) if mode == CURSOR else ClassicWalk(self.requester)
            try:
                for records, after in walker.walk(ctx, learned, stop, at):
                    learned.mode = mode
                    if after is not None and after.get("restart"):
                        fresh = True
                        continue
                    if fresh:
                        top, fresh = _top(records, mark), False
                    if after is None:
                        learned.unsafe = None
                        yield Page(records, {**mark.state(), "paging": learned.state()})
                        return
                    if not backlog:
                        yield Page(records)
                        continue
                    state = {**after, "mode": mode, "top": top}
                    yield Page(records, {**base, "paging": learned.state(), "walk": state})
                    del records
                return
            except CursorRefused:
                log.info(
                    "team.accessLogs refused cursor paging; classic pages from now on",
                    extra={"source_id": ctx.source_id},
                )
                mode, learned.mode, at, fresh = CLASSIC, CLASSIC, {"count": count}, True
            except PagingLimitError as exc:
                if isinstance(exc, Unreachable):
                    learned.unsafe = exc.detail
                log.error(
                    "access logs unreachable past the page cap",
                    extra={"source_id": ctx.source_id, "error": exc.detail},
                )
                yield Page([], {**base, "paging": learned.state()})
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


def warning(checkpoint: Checkpoint | None) -> str | None:
    """What `check` and `state show` say about a source whose rows cannot all be reached."""
    return Learned.of(checkpoint).unsafe
