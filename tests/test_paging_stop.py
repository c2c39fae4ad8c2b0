"""The access stop rule when the last row of a page has malformed times.

A row whose `date_first` lies past its `date_last` (or is not a time at all) breaks the
order either sort would give: sorted by its absurd `date_first`, it can head a page whose
rows are all newer than the horizon. Stopping on it would skip every row after it.
"""

from __future__ import annotations

import pytest

from connector.paging.stop import LastRowBefore

HORIZON = 1_000_000.0


def row(first: object, last: object) -> dict[str, object]:
    return {"user_id": "U1", "date_first": first, "date_last": last}


@pytest.mark.parametrize(
    "last_row",
    [
        row(4_000_000_000, 10),
        row("not a time", 10),
        row(-5, 10),
        row(10, 1e15),
    ],
    ids=["first-after-last", "first-not-a-time", "first-negative", "last-out-of-range"],
)
def test_a_malformed_last_row_does_not_end_the_walk(last_row: dict[str, object]) -> None:
    stop = LastRowBefore("date_last", "date_first")(HORIZON)
    page = [row(HORIZON + 500, HORIZON + 900), row(HORIZON + 400, HORIZON + 800), last_row]
    assert not stop.reached(page)


def test_a_well_formed_old_last_row_ends_the_walk() -> None:
    stop = LastRowBefore("date_last", "date_first")(HORIZON)
    page = [row(HORIZON + 500, HORIZON + 900), row(HORIZON - 900, HORIZON - 500)]
    assert stop.reached(page)
    assert not stop.reached([row(HORIZON - 900, HORIZON + 10)])
