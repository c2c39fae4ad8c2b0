"""Slack.IntegrationLogs from `team.integrationLogs` (paid plans, admin user token).

Records have no id and the method has no time filter, so each record's identity is a
hash of the fields that describe the change, and each poll reads from the newest end
until it passes the horizon of the last completed poll. Slack does not document the
order; the first page tells which end is newest, and the poll walks from there.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import orjson

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

METHOD = "team.integrationLogs"
IDENTITY = (
    "date",
    "user_id",
    "change_type",
    "app_id",
    "app_type",
    "service_id",
    "service_type",
    "scope",
    "channel",
    "reason",
    "rss_feed_url",
    "rss_feed_change_type",
)


class IntegrationLog(Record):
    user_id: LooseStr
    user_name: LooseStr | None = indicator("username")
    service_id: LooseStr | None = None
    service_type: LooseStr | None = None
    app_id: LooseStr | None = None
    app_type: LooseStr | None = None
    date: UnixTime
    change_type: LooseStr
    scope: LooseStr | None = None
    channel: LooseStr | None = None
    reason: LooseStr | None = None
    rss_feed: bool | None = None
    rss_feed_change_type: LooseStr | None = None
    rss_feed_title: LooseStr | None = None
    rss_feed_url: LooseStr | None = None


def _dates(logs: list[Raw]) -> list[float]:
    return [t for r in logs if isinstance(r, dict) and (t := as_ts(r.get("date"))) is not None]


@register
class IntegrationLogs(LogType):
    name = "integration"
    log_type = "Slack.IntegrationLogs"
    model = IntegrationLog
    event_time_field = "date"
    scopes = ("admin",)
    quiet_after = 604_800  # 7 days: apps change rarely

    def dedupe_key(self, raw: Raw) -> str:
        identity = [None if raw.get(k) is None else str(raw.get(k)) for k in IDENTITY]
        return hashlib.sha256(orjson.dumps(identity)).hexdigest()

    def pages(self, ctx: PollContext) -> Iterator[Page]:
        horizon, count, done_checkpoint = classic_bounds(ctx)

        def fetch(page: int) -> tuple[list[Raw], int]:
            check_stop(ctx)
            body = ctx.client.web(METHOD, {"count": count, "page": page})
            return list_field(ctx, METHOD, body, "logs"), pages_total(body)

        logs, total = fetch(1)
        dates = _dates(logs)
        if len(dates) > 1 and dates[0] < dates[-1] and total > 1:
            yield Page(logs)
            for number in range(min(total, CLASSIC_MAX_PAGE), 1, -1):
                logs, _ = fetch(number)
                if self._past(logs, horizon):
                    break
                yield Page(logs)
            else:
                logs = []
            yield Page(logs, done_checkpoint)
            return
        page = 1
        while not self._past(logs, horizon) and page < min(total, CLASSIC_MAX_PAGE):
            yield Page(logs)
            page += 1
            logs, total = fetch(page)
        yield Page(logs, done_checkpoint)

    @staticmethod
    def _past(logs: list[Raw], horizon: float) -> bool:
        dates = _dates(logs)
        return not logs or (bool(dates) and min(dates) < horizon)

    def probe(self, client: SlackClient) -> str:
        body = client.web(METHOD, {"count": 1})
        return f"ok, {(body.get('paging') or {}).get('total', '?')} records available"
