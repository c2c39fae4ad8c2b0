"""team.accessLogs in cursor mode (`limit` + `cursor`): no page cap, so no time travel.

Pages may hold fewer rows than `limit` (none at all) while a cursor follows. A repeated
cursor (the loop guard) or an `invalid_cursor` mid-walk raises `WalkRestart`, and the
stream begins the walk again from the top, a bounded number of times: rows already
written dedupe, nothing is skipped. No `before` is sent, so no row leaves the listing
while it is read.

Slack refusing cursor mode (an error to the first request, or a classic answer without
`response_metadata`) raises `CursorRefused`, which the stream turns into classic paging
for this source from then on.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from connector.paging.guard import LoopGuard, PagingLoopError
from connector.paging.learned import Learned
from connector.paging.requester import Body, Requester
from connector.paging.stop import LastRowBefore
from connector.paging.walk import WalkPosition, WalkRestart, WalkStep, page_count
from connector.slack.errors import SlackApiError
from connector.stream.contract import PollContext

RESTARTS = 2
MIN_LIMIT = 100
"""Slack documents no cursor-mode maximum (a third party says under 1000): an
`invalid_limit` halves `limit` down to this, and the source keeps what worked."""
CURSOR = "cursor"


class CursorRefused(Exception):
    """This source answers classic pages only."""


def next_cursor(body: Body, first: bool) -> str:
    meta = body.get("response_metadata")
    if isinstance(meta, dict):
        return str(meta.get("next_cursor") or "")
    if first or page_count(body) > 1:
        raise CursorRefused
    return ""


@dataclass(frozen=True)
class CursorWalk:
    requester: Requester

    def walk(
        self,
        ctx: PollContext,
        learned: Learned,
        stop: LastRowBefore,
        at: WalkPosition,
        restarts: int = 0,
    ) -> Iterator[WalkStep]:
        """Raises `WalkRestart` to begin again from the top (`restarts` so far)."""
        limit, cursor = min(at.count, learned.limit or at.count), at.cursor or ""
        guard = LoopGuard(ctx.source_id, self.requester.method)
        while True:
            params: dict[str, Any] = {"limit": limit}
            if cursor:
                params["cursor"] = cursor
            try:
                records, body = self.requester.fetch(ctx, params)
                following = next_cursor(body, first=learned.mode != CURSOR and not cursor)
                if following:
                    guard.step(following)
            except SlackApiError as exc:
                if not cursor and exc.code == "invalid_limit" and limit > MIN_LIMIT:
                    limit = learned.limit = max(MIN_LIMIT, limit // 2)
                    continue
                if not cursor:
                    raise CursorRefused from exc
                if exc.code != "invalid_cursor" or restarts >= RESTARTS:
                    raise
                raise WalkRestart(restarts + 1, limit) from exc
            except PagingLoopError:
                if restarts >= RESTARTS:
                    raise
                raise WalkRestart(restarts + 1, limit) from None
            learned.observe_order([r for r in records if isinstance(r, dict)])
            if not following or (records and stop.reached(records)):
                yield WalkStep(records, None)
                return
            cursor = following
            yield WalkStep(records, WalkPosition(count=limit, cursor=cursor))
            del records, body
