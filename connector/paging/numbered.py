"""Slack's classic paging (`count` + `page`, at most 100 pages of at most 1000 rows).

Read newest first until the stop rule says the horizon is passed. Rows only ever move
towards the newest end while a poll reads (new rows, touched aggregates), which repeats a
row at a page boundary (dedupe drops it) but never skips one; the page count is re-read
from every response, since those moves push the oldest rows onto pages that did not
exist when the poll began. No `before` is sent: which
field it filters on is undocumented, and when it is not the sort field a keyset `before`
hides rows; without it Slack's own "now" bounds the listing and no row leaves it.

When the listing has more than 100 pages the page size grows until it fits; when even
1000 rows a page cannot reach what the poll needs, the poll fails loudly
(`PagingLimitError`) instead of committing past a gap. The limits are read from
`connector.paging.limits` at call time, as the access stream reads them, so the property
tests' scaled-down cap reaches this stream too.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import ClassVar, Protocol

from connector.paging import limits
from connector.paging.guard import PagingLimitError
from connector.paging.requester import Body, Requester
from connector.paging.watermark import Watermark, Watermarked
from connector.slack.client import SlackClient
from connector.stream.contract import Page, PollContext, Raw
from connector.stream.times import as_ts

Fetch = Callable[[int], tuple[list[Raw], Body]]


class StopRule(Protocol):
    def reached(self, records: list[Raw]) -> bool: ...


class Order(Protocol):
    def ascending(self, first: list[Raw], pages: int, fetch: Fetch) -> bool:
        """Whether the newest rows are on the last page; page 1 is already read."""
        ...


class NewestFirst:
    """The listing is documented newest first (team.accessLogs)."""

    def ascending(self, first: list[Raw], pages: int, fetch: Fetch) -> bool:
        return False


class DetectedOrder:
    """The order is undocumented (team.integrationLogs): page 1 is compared with the last
    page, not with itself, so a page of one second cannot pass for either order."""

    def __init__(self, field: str) -> None:
        self.field = field

    def ascending(self, first: list[Raw], pages: int, fetch: Fetch) -> bool:
        last, _ = fetch(pages)
        return self._newest(last) > self._newest(first)

    def _newest(self, records: list[Raw]) -> float:
        """Raw values, malformed ones too: they sort in the listing as their numbers do."""
        times = [as_ts(r.get(self.field)) for r in records if isinstance(r, dict)]
        return max((t for t in times if t is not None), default=float("-inf"))


def _pages(body: Body) -> tuple[int, int | None]:
    paging = body.get("paging")
    paging = paging if isinstance(paging, dict) else {}
    pages, total = paging.get("pages"), paging.get("total")
    return (
        pages if isinstance(pages, int) and pages > 0 else 1,
        total if isinstance(total, int) and total >= 0 else None,
    )


class NumberedPages:
    """Pages of one listing, newest first, until `stop` is reached or the listing ends."""

    def __init__(self, requester: Requester, order: Order) -> None:
        self.requester = requester
        self.order = order

    def pages(self, ctx: PollContext, stop: StopRule) -> Iterator[list[Raw]]:
        cap, most = limits.MAX_PAGE, limits.MAX_COUNT
        count = min(ctx.page_size or most, most)

        def fetch(number: int) -> tuple[list[Raw], Body]:
            return self.requester.fetch(ctx, {"count": count, "page": number})

        first, body = fetch(1)
        pages, total = _pages(body)
        if pages > cap and total is not None and count < most:
            count = min(most, math.ceil(total / cap))
            first, body = fetch(1)
            pages, total = _pages(body)
        reachable = min(pages, cap)
        ascending = reachable > 1 and self.order.ascending(first, reachable, fetch)
        if ascending and pages > reachable:
            raise self._limit(ctx, f"{pages} pages oldest first: the newest are past page {cap}")
        if ascending:
            for number in range(reachable, 0, -1):
                records = first if number == 1 else fetch(number)[0]
                yield records
                if stop.reached(records):
                    return
            return
        records, number = first, 1
        yield records
        while not stop.reached(records) and number < pages:
            if number >= cap:
                why = f"{pages} pages: page {cap} is still newer than the watermark"
                raise self._limit(ctx, why)
            number += 1
            records, body = fetch(number)
            pages = max(pages, _pages(body)[0])
            yield records

    def _limit(self, ctx: PollContext, why: str) -> PagingLimitError:
        return PagingLimitError(ctx.source_id, self.requester.method, f"{why}; not committed")


class ListingCheckpoint(Watermarked):
    """A numbered listing keeps only its watermark: each poll reads down to it."""

    kind: ClassVar[str] = "integration"


@dataclass(frozen=True)
class Listing:
    """A page-numbered log type: read newest first down to the watermark, and commit the
    new watermark with the last page (nothing before it: the order may be either way)."""

    paginator: NumberedPages
    stop: Callable[[float], StopRule]
    field: str
    noun: str
    checkpoint: ClassVar[type[ListingCheckpoint]] = ListingCheckpoint

    def pages(self, ctx: PollContext) -> Iterator[Page]:
        mark = Watermark(self.field, ctx, ListingCheckpoint.load(ctx.checkpoint))
        held: list[Raw] | None = None
        for records in self.paginator.pages(ctx, self.stop(mark.start)):
            if held is not None:
                yield Page(held)
            mark.observe(records)
            held = records
        yield Page(held or [], ListingCheckpoint(**mark.state()))

    def probe(self, client: SlackClient) -> str:
        return self.paginator.requester.probe(client, self.noun)
