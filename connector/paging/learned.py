"""What one source's team.accessLogs revealed about itself, kept in the checkpoint.

Slack documents neither the field the listing is sorted by nor the field `before`
filters on (`../shared/SLACK_API.md`, team.accessLogs, UNCERTAIN). Both are proven from
answers, never assumed, and persisted so a restart keeps them:

* sorted by `date_last` once `date_first` rises somewhere down the listing, by
  `date_first` once `date_last` does (each field is monotone in its own order);
* `before=T` filters on `date_first` once an answer to it holds a row whose
  `date_last` > T; on `date_last` once a probe window (T taken from a row whose
  `date_last` > `date_first` = T) lists a row older than T before any such row.

`mode` is the transport that worked: "cursor" (no page cap) or "classic"; `limit` the
largest cursor page Slack accepted when it refused 1000. `unreachable` is why rows past
the page cap cannot be reached, with the configuration that fixes it, while that holds.

`Learned` observes during a poll; `Proven` is what it commits (the access checkpoint's
`paging` part, stored under the names the previous release gave it).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from typing import Annotated

from connector.stream.checkpoint import Part, stored_as
from connector.stream.contract import Raw
from connector.stream.times import event_time

FIRST, LAST = "date_first", "date_last"


def times(row: Raw) -> tuple[float | None, float | None]:
    return event_time(row.get(FIRST)), event_time(row.get(LAST))


class Proven(Part):
    mode: str | None = None
    sorted_by: Annotated[str | None, stored_as("sort")] = None
    before_filters: Annotated[str | None, stored_as("before")] = None
    unreachable: Annotated[str | None, stored_as("unsafe")] = None
    limit: int | None = None


@dataclass
class Learned:
    mode: str | None = None
    sorted_by: str | None = None
    """The field the listing is sorted by, once an answer proved it."""
    before_filters: str | None = None
    """The field `before` filters on, once an answer proved it."""
    unreachable: str | None = None
    limit: int | None = None

    @classmethod
    def of(cls, kept: Proven | None) -> Learned:
        kept = kept or Proven()
        return cls(kept.mode, kept.sorted_by, kept.before_filters, kept.unreachable, kept.limit)

    def proven(self) -> Proven:
        return Proven(
            mode=self.mode,
            sorted_by=self.sorted_by,
            before_filters=self.before_filters,
            unreachable=self.unreachable,
            limit=self.limit,
        )

    def observe_order(self, rows: list[Raw]) -> None:
        """`rows` of one answer, in listing order. Never across answers: rows touched or
        added between two requests make the next page start above the last one's end."""
        if self.sorted_by is not None:
            return
        pairs = [(times(a), times(b)) for a, b in pairwise(rows)]
        for (a_first, a_last), (b_first, b_last) in pairs:
            if a_first is not None and b_first is not None and b_first > a_first:
                self.sorted_by = LAST
                return
            if a_last is not None and b_last is not None and b_last > a_last:
                self.sorted_by = FIRST
                return

    def observe_filter(self, rows: list[Raw], before: float, probe: bool) -> None:
        """An answer to `before`: a later `date_last` proves the filter is `date_first`.

        In a probe window (sorted by `date_first`, or not shown otherwise) the witness
        (`date_first` == before < `date_last`) lists before any older row when the filter
        is `date_first`; an older row first proves it is `date_last` (or, sorted by
        `date_last` after all, a listing that cannot be told from the unsafe one)."""
        if self.before_filters is not None:
            return
        for row in rows:
            first, last = times(row)
            if last is not None and last > before:
                self.before_filters = FIRST
                return
            if probe and first is not None and first < before:
                self.before_filters = LAST
                return
