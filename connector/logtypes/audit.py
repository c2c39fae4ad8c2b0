"""Slack.AuditLogs from the Audit Logs API (Enterprise Grid, org-level token, `auditlogs:read`).

Newest first, `oldest` and `latest` inclusive, many entries per second, a cursor that
forgets filters: paged as resumable time windows (`connector.paging.window`).
"""

from __future__ import annotations

from typing import Any

from connector.logtypes.base import LogType, Raw, Record, register
from connector.logtypes.fields import LooseStr, UnixTime, indicator
from connector.paging.requester import Requester
from connector.paging.window import CursorPages, TimeWindows

MAX_LIMIT = 9999
DEFAULT_LIMIT = 9999
"""Slack's maximum: with 50 calls a minute, the page size is the throughput ceiling
(8,332 events/s at 9,999, half that at 5,000). Memory stays bounded because pages are
parsed one per poll and a few per process (`connector.budget`)."""


class User(Record):
    id: LooseStr
    name: LooseStr | None = indicator("username")
    email: LooseStr | None = indicator("email")
    team: LooseStr | None = None


class Actor(Record):
    type: LooseStr
    user: User | None = None


class Channel(Record):
    id: LooseStr
    name: LooseStr | None = None
    privacy: LooseStr | None = None
    is_shared: bool | None = None
    is_org_shared: bool | None = None
    teams_shared_with: list[LooseStr] | None = None


class File(Record):
    id: LooseStr
    name: LooseStr | None = None
    title: LooseStr | None = None
    filetype: LooseStr | None = None


class App(Record):
    id: LooseStr
    name: LooseStr | None = None
    is_distributed: bool | None = None
    is_directory_approved: bool | None = None
    scopes: list[LooseStr] | None = None


class Workspace(Record):
    id: LooseStr
    name: LooseStr | None = None
    domain: LooseStr | None = None


class Enterprise(Record):
    id: LooseStr
    name: LooseStr | None = None
    domain: LooseStr | None = None


class Workflow(Record):
    id: LooseStr
    name: LooseStr | None = None


class Message(Record):
    team: LooseStr | None = None
    channel: LooseStr | None = None
    timestamp: LooseStr | None = None


class Entity(Record):
    type: LooseStr
    user: User | None = None
    channel: Channel | None = None
    file: File | None = None
    app: App | None = None
    workspace: Workspace | None = None
    enterprise: Enterprise | None = None
    workflow: Workflow | None = None
    message: Message | None = None


class Location(Record):
    type: LooseStr
    id: LooseStr
    domain: LooseStr | None = None
    name: LooseStr | None = None


class Context(Record):
    ua: LooseStr | None = None
    ip_address: LooseStr | None = indicator("ip")
    location: Location | None = None
    acting_agent: Any = None
    """Who acted for the actor (Slackbot acting for a user): an object in what Slack sends
    today, whose shape Slack has not documented, so any JSON value is accepted as sent."""


class AuditLog(Record):
    id: LooseStr
    date_create: UnixTime
    action: LooseStr
    actor: Actor
    entity: Entity
    context: Context
    details: Any = None


@register
class AuditLogs(LogType):
    name = "audit"
    log_type = "Slack.AuditLogs"
    model = AuditLog
    event_time_field = "date_create"
    time_keyed = True
    scopes = ("auditlogs:read",)
    enterprise_install = True
    stream = TimeWindows(
        CursorPages(Requester("logs", "entries", api="audit"), MAX_LIMIT, DEFAULT_LIMIT),
        "date_create",
    )

    def dedupe_key(self, raw: Raw) -> str:
        return str(raw.get("id"))
