"""Time travel past the 100-page cap: which `before` keeps every unread row in the next window.

Rows below the last row read have `date_first <= date_last <= ` its `date_last` when the
listing is sorted by `date_last`, and `date_first <=` its `date_first` when sorted by
`date_first`. So `before` = the sort field's value at the last row read is safe when the
listing is sorted by `date_last` (either filter field) or sorted and filtered by
`date_first`; sorted by `date_first` and filtered by `date_last` no value is (a row of an
old `date_first` and a new `date_last` is below the position and outside every earlier
window). An unknown filter is first probed from a witness row (`date_last` >
`date_first`, `Learned.observe_filter`). A listing not yet shown to be sorted by
`date_last` is treated as sorted by `date_first`: both are possible, and `date_last`'s
value at the last row is safe for both once the filter is proven to be `date_first`.

Each new window is read by keyset (page 1, `before` moved to the last row of every page)
while the filter may be `date_last`: a row touched while the poll reads leaves such a
window and would shift an offset page past a row. Filtered by `date_first` no row leaves
its window, and a listing sorted by `date_last` starts each window with rows already read
(first seen before `before`, active after it), so the window is read by page number.
"""

from __future__ import annotations

from dataclasses import dataclass

from connector import clock
from connector.paging import limits
from connector.paging.guard import PagingLimitError
from connector.paging.learned import FIRST, LAST, Learned, times
from connector.stream.contract import Raw


class Unreachable(PagingLimitError):
    """Rows past the page cap that no `before` can reach: sorted by `date_first`,
    filtered by `date_last`, and Slack refused cursor paging."""


@dataclass(frozen=True)
class PageCap:
    """Who pages and how wide: what a report of rows past the cap names."""

    source_id: str
    method: str
    count: int


@dataclass(frozen=True)
class BeforeWindow:
    """The next `before` window: its bound, read by keyset or page number, and whether it
    probes which field `before` filters."""

    before: int
    keyset: bool
    probe: bool = False


def fix(last: Raw, count: int) -> str:
    """What an operator can do: team.accessLogs has no time filter a config could narrow
    (`first_run_lookback_seconds` covers audit logs only), so the reach is set by how often
    the source is polled and by whether Slack accepts cursor paging for its token."""
    first, _ = times(last)
    reach = int(clock.now_ts() - first) - 1 if first is not None else 0
    return (
        f"combinations first seen more than {max(reach, 0)} s ago are out of reach (what "
        f"{limits.MAX_PAGE} pages of {count} rows reach); poll often enough that fewer than "
        f"{limits.MAX_PAGE * count} combinations change between polls, or use a token for "
        "which Slack accepts cursor paging (`limit` and `cursor`)"
    )


def unreachable(cap: PageCap, why: str, last: Raw) -> Unreachable:
    return Unreachable(
        cap.source_id,
        cap.method,
        f"{why}: rows past page {limits.MAX_PAGE} cannot be reached without cursor paging, "
        f"which Slack refused for this source; {fix(last, cap.count)}",
    )


def unfinished(learned: Learned, last: Raw, cap: PageCap) -> Unreachable:
    """A probe window that ended without its witness, or listed a row older than its
    `before`: under a `date_first` filter the witness (`date_first` == `before`, which never
    changes) is listed before any older row, so `before` filters `date_last`, and the rows
    past the first window's cap whose `date_last` is newer than `before` were outside the
    probe. However the window ended (its last page, or the stop rule), they are unread."""
    listing = (
        "listed by date_first"
        if learned.sorted_by == FIRST
        else "not shown to be listed by date_last"
    )
    why = f"{listing}, and a probe window shows `before` filters date_last"
    return unreachable(cap, why, last)


def next_window(
    learned: Learned, last: Raw, witness: Raw | None, before: int | None, cap: PageCap
) -> BeforeWindow | None:
    """The window after `last`; None when it would not move (`last` is still at `before`:
    read on by page number). Raises `Unreachable` for the unsafe combination."""
    first, newest = times(last)
    listing = (
        "listed by date_first"
        if learned.sorted_by == FIRST
        else "not yet shown to be listed by date_last"
    )
    if learned.sorted_by != LAST and learned.before_filters == LAST:
        raise unreachable(cap, f"{listing} and `before` filters date_last", last)
    if learned.sorted_by != LAST and learned.before_filters is None:
        seen = times(witness)[0] if witness is not None else None
        if seen is None:
            raise unreachable(
                cap, f"{listing}, and no row showed which field `before` filters", last
            )
        return _moved(int(seen), before, keyset=True, probe=True)
    by_first = learned.sorted_by == FIRST and learned.before_filters == FIRST
    value = first if by_first else newest
    if value is None:
        return None
    keyset = learned.before_filters != FIRST or learned.sorted_by == FIRST
    return _moved(int(value), before, keyset=keyset)


def _moved(
    value: int, before: int | None, *, keyset: bool, probe: bool = False
) -> BeforeWindow | None:
    if before is not None and value >= before:
        return None
    return BeforeWindow(value, keyset, probe)
