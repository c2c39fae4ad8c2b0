"""Slack.IntegrationLogs from `team.integrationLogs` (paid plans, admin user token).

Records have no id and the method has no time filter, so each record's identity is a
hash of the fields that describe the change, and each poll reads from the newest end
down to the watermark. Slack does not document the order: page 1 and the last page tell
which end is newest (`connector.paging.numbered.DetectedOrder`).
"""

from __future__ import annotations

import hashlib

import orjson

from connector.logtypes.base import LogType, Raw, Record, register
from connector.logtypes.fields import LooseStr, UnixTime, indicator
from connector.paging.numbered import DetectedOrder, Listing, NumberedPages
from connector.paging.requester import Requester
from connector.paging.stop import PageOlderThan

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


@register
class IntegrationLogs(LogType):
    name = "integration"
    log_type = "Slack.IntegrationLogs"
    model = IntegrationLog
    partition = "day"
    event_time_field = "date"
    scopes = ("admin",)
    per_workspace = True
    quiet_after = 604_800  # 7 days: apps change rarely
    stream = Listing(
        NumberedPages(Requester("team.integrationLogs", "logs"), DetectedOrder("date")),
        PageOlderThan("date"),
        "date",
        "records",
    )

    def dedupe_key(self, raw: Raw) -> str:
        identity = [None if raw.get(k) is None else str(raw.get(k)) for k in IDENTITY]
        return hashlib.sha256(orjson.dumps(identity)).hexdigest()
