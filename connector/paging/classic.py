"""team.accessLogs by `count` + `page`, time travelling past the 100-page cap.

The first window sends no `before`: Slack's own "now" bounds it, so no row leaves it
while the poll reads and offset pages only ever repeat a row (dedupe drops it). At page
100 the walk moves to the window `connector.paging.travel` chooses. After every page it
says where it would go on (`At`), which the stream keeps in the checkpoint, so a first run
that stops halfway resumes there instead of at page 1.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from connector.logtypes.base import PollContext, Raw
from connector.paging import limits
from connector.paging.guard import PagingLimitError
from connector.paging.learned import FIRST, LAST, Learned, times
from connector.paging.requester import Body, Requester
from connector.paging.stop import LastRowBefore
from connector.paging.travel import next_window

At = dict[str, Any]
Step = tuple[list[Raw], At | None]
"""A page's records, and where the walk goes on after it (None: the walk is done)."""


def page_count(body: Body) -> int:
    paging = body.get("paging")
    pages = paging.get("pages") if isinstance(paging, dict) else None
    return pages if isinstance(pages, int) and pages > 0 else 1


def witnessed(rows: list[Raw], witness: Raw | None) -> Raw | None:
    """The last row read whose `date_last` is past its `date_first` (probes the filter)."""
    for row in reversed(rows):
        first, last = times(row)
        if first is not None and last is not None and last > first:
            return row
    return witness


@dataclass(frozen=True)
class ClassicWalk:
    requester: Requester

    def walk(
        self, ctx: PollContext, learned: Learned, stop: LastRowBefore, at: At
    ) -> Iterator[Step]:
        count, before = int(at["count"]), at.get("before")
        page, keyset, probe = int(at.get("page", 1)), bool(at.get("keyset")), bool(at.get("probe"))
        grow = before is None and page == 1 and count < limits.MAX_COUNT
        tail: list[Raw] = []
        witness: Raw | None = None
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
            rows = [r for r in records if isinstance(r, dict)]
            learned.observe_order(tail + rows)
            if before is not None:
                learned.observe_filter(rows, before, probe)
            witness = witnessed(rows, witness)
            tail = rows[-1:] or tail
            if stop.reached(records) or page >= pages:
                yield records, None
                return
            if keyset and learned.sort == LAST and learned.before == FIRST:
                keyset = False
            if not keyset and page < limits.MAX_PAGE:
                page += 1
            else:
                where = (ctx.source_id, self.requester.method, count)
                window = next_window(learned, tail[-1], witness, before, where) if tail else None
                if window is not None:
                    before, keyset, probe, page = window.before, window.keyset, window.probe, 1
                elif page < limits.MAX_PAGE:
                    page += 1
                else:
                    raise PagingLimitError(
                        ctx.source_id,
                        self.requester.method,
                        f"{limits.MAX_PAGE} pages before={before} did not get past rows already "
                        "read; only cursor paging reaches further; not committed",
                    )
            yield (
                records,
                {"count": count, "before": before, "page": page, "keyset": keyset, "probe": probe},
            )
            del records, body
