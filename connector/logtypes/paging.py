"""Small helpers the pollers share for reading Slack pages defensively."""

from __future__ import annotations

from typing import Any

from connector.logtypes.base import Checkpoint, PollContext, PollStopped, Raw
from connector.slack.errors import SlackTransientError

CLASSIC_MAX_PAGE = 100
CLASSIC_MAX_COUNT = 1000


def check_stop(ctx: PollContext) -> None:
    if ctx.stop.is_set():
        raise PollStopped(ctx.source_id)


def list_field(ctx: PollContext, method: str, body: dict[str, Any], key: str) -> list[Raw]:
    """The record list of a response; a 200 without it is a broken answer worth retrying later."""
    value = body.get(key)
    if not isinstance(value, list):
        raise SlackTransientError(ctx.source_id, method, f"response has no {key!r} list")
    return value


def pages_total(body: dict[str, Any]) -> int:
    paging = body.get("paging")
    pages = paging.get("pages") if isinstance(paging, dict) else None
    return pages if isinstance(pages, int) and pages > 0 else 1


def classic_bounds(ctx: PollContext) -> tuple[float, int, Checkpoint]:
    """For page-numbered methods: how far back this poll must read (the last completed
    poll, minus the late-event overlap), the page size, and the checkpoint to commit once
    the poll got there."""
    horizon = (ctx.checkpoint or {}).get("horizon", ctx.now - ctx.first_run_lookback)
    count = min(ctx.page_size or CLASSIC_MAX_COUNT, CLASSIC_MAX_COUNT)
    return horizon, count, {"horizon": ctx.now - ctx.late_overlap}
