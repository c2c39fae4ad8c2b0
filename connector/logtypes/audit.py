"""Slack.AuditLogs from the Audit Logs API (Enterprise Grid, org-level token, `auditlogs:read`).

Slack returns entries newest first, `oldest` and `latest` are inclusive and many entries
share a second, so the poll works on a fixed window `[oldest, latest]`:

* every page of the window is requested with the same `oldest` (the cursor forgets filters);
* after each written page the checkpoint records the lowest `date_create` written so far,
  so a run that fails halfway resumes with `latest` = that second and loses nothing of the
  older, unfetched part; boundary-second repeats are dropped by `id`;
* once the cursor is empty the next window starts `late_overlap` seconds before this one
  ended, which catches events Slack indexes late; their ids dedupe the overlap.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from connector.logtypes.base import Checkpoint, LogType, Page, PollContext, Raw, Record, register
from connector.logtypes.fields import LooseStr, UnixTime, as_ts, indicator
from connector.logtypes.paging import check_stop, list_field
from connector.slack.client import SlackClient

MAX_LIMIT = 9999
DEFAULT_LIMIT = 5000
"""A parsed page costs about 10 KB of memory per entry: 5,000 keeps a 1M-event backfill
under 100 MB RSS (9,999 needs ~170 MB) and still fits 250k events a minute into the
Audit API's 50 calls a minute."""


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

    def dedupe_key(self, raw: Raw) -> str:
        return str(raw.get("id"))

    def pages(self, ctx: PollContext) -> Iterator[Page]:
        """Finish a window a failed run left behind, then read up to now.

        `covered_from`, the oldest second the daemon ever asked for, tells a backfill
        where the daemon's data begins.
        """
        cp = ctx.checkpoint or {}
        window = cp.get("window")
        if window:
            windows = [(window["oldest"], window["latest"], window["remaining"])]
            next_oldest = window["latest"] - ctx.late_overlap
        else:
            windows = []
            next_oldest = cp.get("next_oldest", ctx.now - ctx.first_run_lookback)
        windows.append((min(next_oldest, ctx.now), ctx.now, ctx.now))
        covered = cp.get("covered_from", windows[0][0])
        for oldest, latest, upper in windows:
            for page in self._window(ctx, oldest, latest, upper):
                assert page.checkpoint is not None
                yield Page(page.records, {**page.checkpoint, "covered_from": covered})
                del page

    def _window(self, ctx: PollContext, oldest: int, latest: int, upper: int) -> Iterator[Page]:
        """Pages of `[oldest, upper]`, newest first; `latest` is where the whole window ends."""
        limit = min(ctx.page_size or DEFAULT_LIMIT, MAX_LIMIT)
        lowest = upper
        cursor = ""
        while True:
            check_stop(ctx)
            body = ctx.client.audit_logs(
                {"oldest": oldest, "latest": upper, "limit": limit, "cursor": cursor or None}
            )
            entries = list_field(ctx, "logs", body, "entries")
            lowest = min(lowest, _lowest_second(entries, lowest))
            cursor = str((body.get("response_metadata") or {}).get("next_cursor") or "")
            if not cursor:
                yield Page(entries, {"next_oldest": latest - ctx.late_overlap, "watermark": latest})
                return
            yield Page(
                entries, {"window": {"oldest": oldest, "latest": latest, "remaining": lowest}}
            )
            del body, entries

    def prune_before(self, checkpoint: Checkpoint | None) -> int | None:
        if not checkpoint:
            return None
        window = checkpoint.get("window")
        bound = window["oldest"] if window else checkpoint.get("next_oldest")
        return int(bound) if bound is not None else None

    def probe(self, client: SlackClient) -> str:
        body = client.audit_logs({"limit": 1})
        return f"ok, {len(body.get('entries') or [])} entry returned"


def _lowest_second(entries: list[Raw], default: int) -> int:
    """The oldest `date_create` on a page; entries without a usable one are skipped."""
    stamps: list[Any] = [e.get("date_create") for e in entries if isinstance(e, dict)]
    if not all(s.__class__ is int or s.__class__ is float for s in stamps):
        stamps = [t for t in map(as_ts, stamps) if t is not None]
    return int(min(stamps, default=default))
