"""What an access-log walk hands its stream: each page, and where the walk goes on.

Both walkers (`cursor_walk`, `classic`) yield a `WalkStep` per answer: its records and the
`WalkPosition` the walk would resume from after them (None: the walk is done). The
stream keeps the position in its checkpoint while a backlog is read, so a stopped first
run resumes there. A walk that must begin again raises `WalkRestart`; one that cannot go
on raises (`CursorRefused`, `PagingLimitError`): control flow, never a flag in the data.
"""

from __future__ import annotations

from typing import NamedTuple

from connector.paging.requester import Body
from connector.stream.checkpoint import Part
from connector.stream.contract import Raw


class WalkPosition(Part):
    """The next request of a walk: `cursor` in cursor mode; `page` of the `before`
    window (None: Slack's "now"), read by keyset or page number, probing or not, in
    classic mode; `count` rows a page in both."""

    count: int
    cursor: str | None = None
    page: int = 1
    before: int | None = None
    keyset: bool = False
    probe: bool = False


class WalkStep(NamedTuple):
    records: list[Raw]
    then: WalkPosition | None
    """Where the walk goes on after `records`; None when they were its last."""


class WalkRestart(Exception):
    """The walk must begin again from the top (a repeated or invalid cursor): rows already
    written dedupe, nothing is skipped. `restarts` counts them, so they stay bounded."""

    def __init__(self, restarts: int, count: int) -> None:
        super().__init__(f"walk restarted ({restarts})")
        self.restarts, self.count = restarts, count


def page_count(body: Body) -> int:
    paging = body.get("paging")
    pages = paging.get("pages") if isinstance(paging, dict) else None
    return pages if isinstance(pages, int) and pages > 0 else 1
