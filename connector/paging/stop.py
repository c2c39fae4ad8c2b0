"""When a poll that reads newest first has gone deep enough: past the horizon.

The horizon is the watermark (newest event time received by earlier polls, minus the
overlap); everything older was read by an earlier poll. A rule is declared once per log
type and called with the horizon at the start of each poll, which gives a fresh rule.
"""

from __future__ import annotations

from itertools import pairwise

from connector.stream.contract import Raw
from connector.stream.times import event_time, event_times


class PageOlderThan:
    """Stop after a page holding a record older than the horizon: the pages after it are
    older still. Records without a trusted time say nothing."""

    def __init__(self, field: str, horizon: float = float("-inf")) -> None:
        self.field, self.horizon = field, horizon

    def __call__(self, horizon: float) -> PageOlderThan:
        return PageOlderThan(self.field, horizon)

    def reached(self, records: list[Raw]) -> bool:
        times = event_times(records, self.field)
        return not records or any(t is not None and t < self.horizon for t in times)


class LastRowBefore:
    """For rows sorted newest first by a field Slack does not name (access logs: `date_first`
    or `date_last`, with `date_first <= date_last`).

    Stopping when the last row's `bound` (the larger field) is older than the horizon is
    right whichever field sorts: the rows after it are older in both. Stopping on `other`
    is right only once a page proved the sort is not on `bound` (`bound` rose somewhere
    down a page), and it ends sooner when old combinations are still active. A last row
    whose times are malformed (`other` untrusted or past `bound`) breaks that order and
    says nothing: sorted by its absurd `date_first` it heads a listing of newer rows.
    """

    def __init__(self, bound: str, other: str, horizon: float = float("-inf")) -> None:
        self.bound, self.other, self.horizon = bound, other, horizon
        self.sorted_by_other = False

    def __call__(self, horizon: float) -> LastRowBefore:
        return LastRowBefore(self.bound, self.other, horizon)

    def reached(self, records: list[Raw]) -> bool:
        rows = [r for r in records if isinstance(r, dict)]
        if not rows:
            return not records
        known = [t for r in rows if (t := event_time(r.get(self.bound))) is not None]
        if any(a < b for a, b in pairwise(known)):
            self.sorted_by_other = True
        other, bound = event_time(rows[-1].get(self.other)), event_time(rows[-1].get(self.bound))
        if other is None or bound is None or other > bound:
            return False
        return (other if self.sorted_by_other else bound) < self.horizon
