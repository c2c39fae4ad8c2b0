"""Where the next poll starts: the newest event time received, minus the late-event overlap.

The host clock only places the very first window (`now - first_run_lookback`); after that
the watermark moves only with the data, so a host clock ahead of or behind Slack's, or
stepped back, loses nothing. A time further in the future than `FUTURE_TOLERANCE` (a
corrupt record that still validates) cannot move it, or it would skip every real event.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar, TypedDict

from connector.stream.checkpoint import Checkpoint
from connector.stream.contract import PollContext, Raw
from connector.stream.times import event_times

FUTURE_TOLERANCE = 86_400


class Watermarked(Checkpoint):
    """The watermark part every stream's checkpoint has: the newest time received and
    where the next poll starts, or (nothing received yet) the first window's start."""

    newest: int | None = None
    next_oldest: int | None = None
    start: int | None = None
    time_fields: ClassVar[frozenset[str]] = frozenset({"newest", "next_oldest", "start"})
    legacy_start: ClassVar[str] = "horizon"
    """Where the previous release (version 0) kept `start` when it stored no `newest`."""

    @classmethod
    def upgrade(cls, stored: dict[str, Any], version: int) -> dict[str, Any]:
        if version == 0 and stored.get("newest") is None and stored.get("start") is None:
            legacy = stored.get(cls.legacy_start)
            if legacy is not None:
                return {**stored, "start": legacy}
        return stored


class MarkFields(TypedDict):
    newest: int | None
    next_oldest: int | None
    start: int | None


class Watermark:
    """The newest trusted `field` value seen, kept in the checkpoint as `newest`."""

    def __init__(self, field: str, ctx: PollContext, kept: Watermarked | None) -> None:
        self.field = field
        self.overlap = ctx.late_overlap
        self._ceiling = ctx.now + FUTURE_TOLERANCE
        newest = kept.newest if kept else None
        self.newest: float | None = None if newest is None else float(newest)
        if self.newest is not None:
            self.start = int(self.newest) - self.overlap
        else:
            start = kept.start if kept else None
            self.start = ctx.now - ctx.first_run_lookback if start is None else int(start)

    def observe(self, records: Iterable[Raw]) -> None:
        times = event_times(records, self.field)
        trusted = [t for t in times if t is not None and t <= self._ceiling]
        if trusted:
            top = max(trusted)
            self.newest = top if self.newest is None else max(self.newest, top)

    def state(self) -> MarkFields:
        """The `Watermarked` fields to commit: the newest time, or (nothing seen yet) the
        first window's start."""
        if self.newest is None:
            return MarkFields(newest=None, next_oldest=None, start=self.start)
        newest = int(self.newest)
        return MarkFields(newest=newest, next_oldest=newest - self.overlap, start=None)


def lowest(records: Iterable[Any], field: str, floor: float, default: float) -> float:
    """The oldest trusted `field` value at or above `floor`; `default` when there is none."""
    times = event_times(records, field)
    return min((t for t in times if t is not None and t >= floor), default=default)
