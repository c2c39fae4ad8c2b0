"""team.accessLogs by `count` + `page`, time travelling past the 100-page cap.

The first window sends no `before`: Slack's own "now" bounds it, so no row leaves it
while the poll reads and offset pages only ever repeat a row (dedupe drops it). At page
100 the walk moves to the window `connector.paging.travel` chooses. After every page it
says where it would go on (`WalkPosition`), which the stream keeps in the checkpoint, so a
first run that stops halfway resumes there instead of at page 1. A walk that has to travel is a
backlog, whatever page size steady state uses: its windows ask for the largest page.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from connector.paging import limits
from connector.paging.guard import PagingLimitError
from connector.paging.learned import FIRST, LAST, Learned, times
from connector.paging.requester import Body, Requester
from connector.paging.stop import LastRowBefore
from connector.paging.travel import PageCap, next_window, unfinished
from connector.paging.walk import WalkPosition, WalkStep, page_count
from connector.stream.contract import PollContext, Raw


def witnessed(rows: list[Raw], witness: Raw | None) -> Raw | None:
    """The last row read whose `date_last` is past its `date_first` (probes the filter)."""
    for row in reversed(rows):
        first, last = times(row)
        if first is not None and last is not None and last > first:
            return row
    return witness


def _shifted(
    body: Body, listed: int | None, before: int | None, count: int
) -> tuple[int, int | None]:
    """Pages to step back, and the window's new `paging.total`.

    Inside a `before` window filtered by `date_last`, a row touched while the walk reads
    leaves it, and every row below moves up one place: the first row of the page just
    read had moved onto the page before it. The total shrinking says so; the walk goes
    back to re-read those rows (repeats dedupe) instead of skipping them. Without
    `before` no row leaves."""
    paging = body.get("paging")
    total = paging.get("total") if isinstance(paging, dict) else None
    if before is None or not isinstance(total, int):
        return 0, None
    left = listed - total if listed is not None and total < listed else 0
    return -(-left // count), total


@dataclass(frozen=True)
class ClassicWalk:
    requester: Requester

    def walk(
        self, ctx: PollContext, learned: Learned, stop: LastRowBefore, at: WalkPosition
    ) -> Iterator[WalkStep]:
        count, before, page, keyset, probe = at.count, at.before, at.page, at.keyset, at.probe
        grow = before is None and page == 1 and count < limits.MAX_COUNT
        tail: list[Raw] = []
        witness: Raw | None = None
        listed: int | None = None
        while True:
            params: dict[str, Any] = {"count": count, "page": page}
            if before is not None:
                params["before"] = before
            records, body = self.requester.fetch(ctx, params)
            pages = page_count(body)
            if grow and pages > limits.MAX_PAGE:
                count, grow = limits.MAX_COUNT, False
                continue
            grow = False
            back, listed = _shifted(body, listed, before, count)
            rows = [r for r in records if isinstance(r, dict)]
            learned.observe_order(rows)
            if before is not None:
                learned.observe_filter(rows, before, probe)
            witness = witnessed(rows, witness)
            tail = rows[-1:] or tail
            if (stop.reached(records) or page >= pages) and not back:
                if (
                    probe
                    and learned.sorted_by != LAST
                    and learned.before_filters != FIRST
                    and (learned.before_filters == LAST or not rows or page >= pages)
                ):
                    learned.before_filters = LAST
                    yield WalkStep(records, _at(count, before, page, keyset, probe))
                    raise unfinished(learned, tail[-1], self._cap(ctx, count))
                yield WalkStep(records, None)
                return
            if keyset and learned.sorted_by == LAST and learned.before_filters == FIRST:
                keyset = False
            if back:
                page = max(1, page - back)
            elif not keyset and page < limits.MAX_PAGE:
                page += 1
            else:
                cap = self._cap(ctx, count)
                window = next_window(learned, tail[-1], witness, before, cap) if tail else None
                if window is not None:
                    before, keyset, probe, page = window.before, window.keyset, window.probe, 1
                    count, listed = limits.MAX_COUNT, None
                elif page < limits.MAX_PAGE:
                    page += 1
                else:
                    raise PagingLimitError(
                        ctx.source_id,
                        self.requester.method,
                        f"{limits.MAX_PAGE} pages before={before} did not get past rows already "
                        "read; only cursor paging reaches further; not committed",
                    )
            yield WalkStep(records, _at(count, before, page, keyset, probe))
            del records, body

    def _cap(self, ctx: PollContext, count: int) -> PageCap:
        return PageCap(ctx.source_id, self.requester.method, count)


def _at(count: int, before: int | None, page: int, keyset: bool, probe: bool) -> WalkPosition:
    return WalkPosition(count=count, before=before, page=page, keyset=keyset, probe=probe)
