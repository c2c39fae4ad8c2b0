"""Where the next poll starts: the newest event time received, minus the late-event overlap.

The host clock only places the very first window (`now - first_run_lookback`); after that
the watermark moves only with the data, so a host clock ahead of or behind Slack's, or
stepped back, loses nothing. A time further in the future than `FUTURE_TOLERANCE` (a
corrupt record that still validates) cannot move it, or it would skip every real event.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from connector.logtypes.base import Checkpoint, PollContext, Raw
from connector.logtypes.fields import event_times

FUTURE_TOLERANCE = 86_400


class Watermark:
    """The newest trusted `field` value seen, kept in the checkpoint as `newest`."""

    def __init__(self, field: str, ctx: PollContext, legacy: str = "horizon") -> None:
        cp = ctx.checkpoint or {}
        self.field = field
        self.overlap = ctx.late_overlap
        self._ceiling = ctx.now + FUTURE_TOLERANCE
        newest = cp.get("newest")
        self.newest: float | None = None if newest is None else float(newest)
        if self.newest is not None:
            self.start = int(self.newest) - self.overlap
        else:
            start = cp.get("start", cp.get(legacy))
            self.start = ctx.now - ctx.first_run_lookback if start is None else int(start)

    def observe(self, records: Iterable[Raw]) -> None:
        times = event_times(records, self.field)
        trusted = [t for t in times if t is not None and t <= self._ceiling]
        if trusted:
            top = max(trusted)
            self.newest = top if self.newest is None else max(self.newest, top)

    def state(self) -> Checkpoint:
        """What to commit: the newest time, or (nothing seen yet) the first window's start."""
        if self.newest is None:
            return {"start": self.start}
        return {"newest": int(self.newest), "next_oldest": int(self.newest) - self.overlap}


def lowest(records: Iterable[Any], field: str, floor: float, default: float) -> float:
    """The oldest trusted `field` value at or above `floor`; `default` when there is none."""
    times = event_times(records, field)
    return min((t for t in times if t is not None and t >= floor), default=default)
