"""Slack.AccessLogs from `team.accessLogs` (paid plans, admin user token).

Rows are aggregates per (user, IP, user agent) whose `date_last` and `count` keep
changing, so a row is emitted once, the first time its combination is seen, and never
again. Paging goes only as deep as the last completed poll (minus `late_overlap`): once a
page ends with a row older than that horizon, every later row is older still (whether
Slack sorts by `date_first` or `date_last`) and was already seen.

Pages are walked by keyset, not offset: the next request sets `before` to the sort value
of the last row read (inclusive; repeats dedupe). A row touched while the poll runs
leaves the window instead of shifting every later row up one page, where offset paging
would skip one; the same move steps past Slack's 100-page cap. Offsets are used only
when a whole page shares one second.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from itertools import pairwise

from connector.logtypes.base import LogType, Page, PollContext, Raw, Record, register
from connector.logtypes.fields import LooseStr, UnixTime, as_ts, indicator
from connector.logtypes.paging import (
    CLASSIC_MAX_PAGE,
    check_stop,
    classic_bounds,
    list_field,
    pages_total,
)
from connector.slack.client import SlackClient

METHOD = "team.accessLogs"


class AccessLog(Record):
    user_id: LooseStr
    username: LooseStr | None = indicator("username")
    date_first: UnixTime
    date_last: UnixTime
    count: int
    ip: LooseStr | None = indicator("ip", required=True)
    user_agent: LooseStr | None = None
    isp: LooseStr | None = None
    country: LooseStr | None = None
    region: LooseStr | None = None


def _sort_key(rows: list[Raw]) -> str:
    """The field Slack sorted this page by, newest first, when the page shows one."""
    for key in ("date_last", "date_first"):
        values = [as_ts(r.get(key)) for r in rows]
        if len(values) > 1 and all(v is not None for v in values):
            if all(a >= b for a, b in pairwise(values)):  # type: ignore[operator]
                return key
    return ""


@register
class AccessLogs(LogType):
    name = "access"
    log_type = "Slack.AccessLogs"
    model = AccessLog
    event_time_field = "date_last"
    scopes = ("admin",)
    quiet_after = 259_200  # 3 days: a quiet workspace adds no new user, IP or device

    def dedupe_key(self, raw: Raw) -> str:
        parts = (raw.get("user_id"), raw.get("ip"), raw.get("user_agent"))
        joined = "\x1f".join("" if p is None else str(p) for p in parts)
        return hashlib.sha256(joined.encode()).hexdigest()

    def pages(self, ctx: PollContext) -> Iterator[Page]:
        horizon, count, done_checkpoint = classic_bounds(ctx)
        before, page, key, tail = ctx.now, 1, "", list[Raw]()
        while True:
            check_stop(ctx)
            body = ctx.client.web(METHOD, {"before": before, "count": count, "page": page})
            logins = list_field(ctx, METHOD, body, "logins")
            rows = [r for r in logins if isinstance(r, dict)]
            key = key or _sort_key(tail + rows)
            tail = rows[-1:] or tail
            last = as_ts(rows[-1].get("date_last")) if rows else None
            reached_horizon = last is not None and last < horizon
            if not logins or reached_horizon or page >= pages_total(body):
                yield Page(logins, done_checkpoint)
                return
            yield Page(logins)
            resume = as_ts(rows[-1].get(key or "date_last")) if rows else None
            if resume is not None and resume < before and (key or page >= CLASSIC_MAX_PAGE):
                before, page = int(resume), 1
            elif page < CLASSIC_MAX_PAGE:
                page += 1
            else:
                yield Page([], done_checkpoint)
                return

    def probe(self, client: SlackClient) -> str:
        body = client.web(METHOD, {"count": 1})
        return f"ok, {(body.get('paging') or {}).get('total', '?')} rows available"
