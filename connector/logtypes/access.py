"""Slack.AccessLogs from `team.accessLogs` (paid plans, admin user token).

Rows are aggregates per (user, IP, user agent) whose `date_last` and `count` keep
changing, so a row is emitted once, the first time its combination is seen. Slack lists
them newest first by a field it does not name; cursor paging reaches every row, and
classic paging time-travels past its 100-page cap where the sort and `before` fields
allow (`connector.paging.access_stream`, `connector.paging.travel`).
"""

from __future__ import annotations

import hashlib

from connector.logtypes.base import LogType, Raw, Record, register
from connector.logtypes.fields import LooseStr, UnixTime, indicator
from connector.paging.access_stream import AccessStream
from connector.paging.requester import Requester
from connector.paging.stop import LastRowBefore


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


@register
class AccessLogs(LogType):
    name = "access"
    log_type = "Slack.AccessLogs"
    model = AccessLog
    partition = "day"
    event_time_field = "date_last"
    scopes = ("admin",)
    per_workspace = True
    quiet_after = 259_200  # 3 days: a quiet workspace adds no new user, IP or device
    stream = AccessStream(
        Requester("team.accessLogs", "logins"), LastRowBefore("date_last", "date_first")
    )

    def dedupe_key(self, raw: Raw) -> str:
        parts = (raw.get("user_id"), raw.get("ip"), raw.get("user_agent"))
        joined = "\x1f".join("" if p is None else str(p) for p in parts)
        return hashlib.sha256(joined.encode()).hexdigest()
