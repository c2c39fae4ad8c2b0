"""Slack audit log entries as OCSF events: the family (`families.py`) picks the class and
activity, one builder per class fills what that class has a place for.

A builder returns False when the entry lacks what its class requires (a file event
without a file, a group event without the group): the entry is then a Base Event, never
an invalid event of the specific class, and never dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from connector.ocsf.event import (
    Event,
    Record,
    endpoint,
    epoch_ms,
    event,
    finish,
    ip_of,
    metadata,
    slack_user,
    user,
)
from connector.ocsf.families import BASE, Family, family

LOG_NAME = "Slack.AuditLogs"
Builder = Callable[[Record, Event], bool]


def audit_event(row: dict[str, Any]) -> Event:
    action = row.get("action")
    named = action if isinstance(action, str) and action else "unknown"
    found = family(named)
    built = _build(row, named, found) or _build(row, named, BASE)
    assert built is not None  # a Base Event always builds
    return built


def _build(row: dict[str, Any], action: str, found: Family) -> Event | None:
    r = Record(row)
    if r.flat.get("action") == action:
        r.take("action")
    activity = (99, action) if found is BASE else found.activity
    meta = metadata(
        str(r.text("id")),
        LOG_NAME,
        "Audit Logs",
        event_code=action,
        tenant_uid=r.text("context.location.id"),
    )
    severity = 3 if found.cls == "detection_finding" else 1
    ev = event(
        found.cls,
        activity,
        epoch_ms(r, "date_create", row.get("p_event_time")),
        meta,
        found.status,
        severity,
    )
    if found.cls == "base_event":
        ev["message"] = action
    elif not BUILDERS[found.cls](r, ev):
        return None
    return finish(ev, r)


def _actor(r: Record) -> dict[str, Any] | None:
    who = slack_user(r, "actor.user")
    session = r.text("context.session_id")
    out: dict[str, Any] = {}
    if who:
        if r.flat.get("actor.type") == "user":
            r.take("actor.type")
        out["user"] = who
    if session:
        out["session"] = {"uid": session}
    return out or None


def _subject(r: Record, actor: dict[str, Any] | None) -> dict[str, Any] | None:
    """The user an event is about: the entity's user, else the actor."""
    subject = slack_user(r, "entity.user")
    if subject and r.flat.get("entity.type") == "user":
        r.take("entity.type")
    return subject or (actor or {}).get("user")


def _source(r: Record, ev: Event) -> None:
    where = endpoint(ip_of(r, "context.ip_address"))
    if where:
        ev["src_endpoint"] = where
    ua = r.text("context.ua")
    if ua:
        ev["http_request"] = {"user_agent": ua}


def _put(ev: Event, **fields: Any) -> None:
    ev.update({k: v for k, v in fields.items() if v is not None})


def authentication(r: Record, ev: Event) -> bool:
    actor = _actor(r)
    session = actor.pop("session", None) if actor else None
    _put(ev, actor=actor or None, user=_subject(r, actor), session=session)
    _source(r, ev)
    ev["service"] = {"name": "Slack"}
    return "user" in ev


def account_change(r: Record, ev: Event) -> bool:
    actor = _actor(r)
    _put(ev, actor=actor, user=_subject(r, actor))
    _source(r, ev)
    return "user" in ev


def _inner(r: Record, kind: str) -> dict[str, Any] | None:
    """The entity of one kind (`entity.channel`, ...) as uid, name and type."""
    at_id, at_name = _INNER.get(kind) or _inner_paths(kind)
    uid, name = r.text(at_id), r.text(at_name)
    if uid is None and name is None:
        return None
    if r.flat.get("entity.type") == kind:
        r.take("entity.type")
    if uid is None:
        return {"name": name, "type": kind}
    if name is None:
        return {"uid": uid, "type": kind}
    return {"uid": uid, "name": name, "type": kind}


def _inner_paths(kind: str) -> tuple[str, str]:
    return f"entity.{kind}.id", f"entity.{kind}.name"


def user_access(r: Record, ev: Event) -> bool:
    actor = _actor(r)
    app = _inner(r, "app")
    grantee = (
        user(app.get("uid"), app.get("name"), type_id=99, type="App") if app else _subject(r, actor)
    )
    action = ev["metadata"]["event_code"]
    privileges = (
        r.strings("details.new_scopes")
        or r.strings("entity.app.scopes")
        or r.strings("details.scopes")
        or (
            [action.removeprefix("role_change_to_")]
            if action.startswith("role_change_to_")
            else None
        )
        or ([role] if (role := r.text("entity.role.name") or r.text("details.role")) else None)
        or [action]
    )
    _put(ev, actor=actor, user=grantee, privileges=privileges)
    return "user" in ev


def group_management(r: Record, ev: Event) -> bool:
    actor = _actor(r)
    group = _inner(r, "usergroup") or _inner(r, "channel")
    _put(ev, actor=actor, group=group, user=_subject(r, actor))
    return group is not None and "user" in ev  # OCSF: a user or privileges, at least one


def file_hosting(r: Record, ev: Event) -> bool:
    actor = _actor(r)
    uid, name = r.text("entity.file.id"), r.text("entity.file.name")
    label = name or r.text("entity.file.title") or uid
    ip = ip_of(r, "context.ip_address")
    if actor is None or not label or ip is None:
        return False
    if r.flat.get("entity.type") == "file":
        r.take("entity.type")
    file = {"name": label, "type_id": 1, "type": "Regular File"}
    _put(ev, actor=actor, file={**file, "uid": uid} if uid else file, src_endpoint={"ip": ip})
    return True


KINDS = ("workspace", "enterprise", "channel", "app", "user", "usergroup", "file", "workflow")
_INNER = {kind: _inner_paths(kind) for kind in KINDS}
"""The entities' paths, made once (see `event._Level`); any other kind's per row."""


def entity_management(r: Record, ev: Event) -> bool:
    actor = _actor(r)
    kind = r.flat.get("entity.type")
    kinds = (kind, *KINDS) if isinstance(kind, str) else KINDS
    entity = next((e for k in kinds if (e := _inner(r, k))), None)
    _put(ev, actor=actor, entity=entity)
    return entity is not None


def detection_finding(r: Record, ev: Event) -> bool:
    actor = _actor(r)
    reasons = r.strings("details.reason") or ["unspecified"]
    ev["status"] = "New"
    ev["finding_info"] = {
        "uid": ev["metadata"]["uid"],
        "title": f"Slack anomaly: {', '.join(reasons)}",
        "types": reasons,
    }
    evidences = []
    now = _evidence(actor, ip_of(r, "context.ip_address"), r.text("context.ua"), r)
    if now:
        evidences.append(now)
    before = _evidence(
        None, ip_of(r, "details.previous_ip_address"), r.text("details.previous_ua"), None
    )
    if before:
        evidences.append(before)
    _put(ev, actor=actor, evidences=evidences or None)
    return True


def _evidence(
    actor: dict[str, Any] | None, ip: str | None, ua: str | None, r: Record | None
) -> dict[str, Any] | None:
    """One sighting: who (user and session), from where (IP, and the country Slack placed
    it in), with which user agent (`data`: evidence has no other place for it in 1.1)."""
    out: dict[str, Any] = {}
    if actor:
        out["actor"] = actor
    if ip:
        out["src_endpoint"] = {"ip": ip}
        place = r.flat.get("details.location") if r else None
        country = place.rsplit(",", 1)[-1].strip() if isinstance(place, str) else ""
        if r and len(country) == 2 and country.isalpha():
            out["src_endpoint"]["location"] = {
                "desc": r.take("details.location"),
                "country": country,
            }
    if ua:
        out["data"] = orjson.dumps({"user_agent": ua}).decode()
    return out or None


BUILDERS: dict[str, Builder] = {
    "authentication": authentication,
    "account_change": account_change,
    "user_access": user_access,
    "group_management": group_management,
    "file_hosting": file_hosting,
    "entity_management": entity_management,
    "detection_finding": detection_finding,
}
