"""The parts every OCSF event is built from: the classes used, the fields every class
shares, and the record a mapper takes Slack's fields from.

A mapper *takes* each Slack field it places (`Record.take`); whatever it did not take is
left in `unmapped`, flattened to dotted keys with JSON text values, so no field is ever
dropped and the Parquet column stays one `map<string, string>` whatever Slack adds.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

VERSION = "1.1.0"
"""The OCSF version Amazon Security Lake takes from custom sources (README, "OCSF")."""

Event = dict[str, Any]


@dataclass(frozen=True)
class OcsfClass:
    uid: int
    name: str
    caption: str
    category_uid: int
    category_name: str


CLASSES = {
    c.name: c
    for c in (
        OcsfClass(0, "base_event", "Base Event", 0, "Uncategorized"),
        OcsfClass(2004, "detection_finding", "Detection Finding", 2, "Findings"),
        OcsfClass(3001, "account_change", "Account Change", 3, "Identity & Access Management"),
        OcsfClass(3002, "authentication", "Authentication", 3, "Identity & Access Management"),
        OcsfClass(
            3004, "entity_management", "Entity Management", 3, "Identity & Access Management"
        ),
        OcsfClass(3005, "user_access", "User Access Management", 3, "Identity & Access Management"),
        OcsfClass(3006, "group_management", "Group Management", 3, "Identity & Access Management"),
        OcsfClass(6006, "file_hosting", "File Hosting Activity", 6, "Application Activity"),
    )
}
STATUS = {0: "Unknown", 1: "Success", 2: "Failure"}
SEVERITY = {1: "Informational", 3: "Medium"}
EMAIL = re.compile(r"^[a-zA-Z0-9_.+-]+@[a-zA-Z0-9-]+\.[a-zA-Z0-9-.]+$")
"""OCSF's `email_t`: an address it would reject stays in `unmapped` instead."""


class Record:
    """One landed row, flattened, from which a mapper takes what it places."""

    __slots__ = ("flat",)

    def __init__(self, row: dict[str, Any]) -> None:
        self.flat: dict[str, Any] = {}
        flat = self.flat
        for key, item in row.items():
            level = _TOP.get(key)
            if level is None:
                level = _level(_TOP, key, key) if key[:2] != "p_" else _top_p(key)
            if level is _CONNECTOR:
                continue
            if type(item) is dict and item:
                try:
                    _flatten(level, item, flat)
                except _Dotted:
                    _keep(key, item, flat)
            else:
                flat[key] = item

    def take(self, path: str) -> Any:
        """The field's value (None when absent or null), marked as placed."""
        return self.flat.pop(path, None)

    def text(self, path: str) -> str | None:
        value = self.flat.get(path)
        if type(value) is str:
            if not value:
                return None
            del self.flat[path]
            return value
        if value is None or isinstance(value, dict | list | bool):
            return None
        del self.flat[path]
        return str(value)

    def strings(self, path: str) -> list[str] | None:
        value = self.flat.get(path)
        if isinstance(value, str):
            value = [v for v in value.split(",") if v]
        if not value or not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return None
        del self.flat[path]
        return value

    def unmapped(self) -> dict[str, str]:
        return {
            k: v if type(v) is str else orjson.dumps(v).decode()
            for k, v in sorted(self.flat.items())
            if v is not None
        }


class _Level:
    """One dotted path and the paths under it, made once (`_level`). Slack's rows repeat
    a few dozen paths, and a path made once is one string whose hash is computed once,
    for the flat dict and every lookup of it; each level also holds its children, so a
    nested object is flattened without making or looking up its prefix again. At most
    `PATHS` levels are kept; past that a path is made per row."""

    __slots__ = ("children", "path", "prefix")

    def __init__(self, path: str) -> None:
        self.path = path
        self.prefix = path + "."
        self.children: dict[str, _Level] = {}


_TOP: dict[str, _Level] = {}
"""The row's top-level keys, and the `p_*` fields the connector added as `_CONNECTOR`
(never in an event)."""
_CONNECTOR = _Level("p_")
PATHS = 4096
_made = [0]


def _level(parent: dict[str, _Level], key: str, path: str) -> _Level:
    level = _Level(path)
    if _made[0] < PATHS:
        _made[0] += 1
        parent[key] = level
    return level


def _top_p(key: str) -> _Level:
    if _made[0] < PATHS:
        _made[0] += 1
        _TOP[key] = _CONNECTOR
    return _CONNECTOR


def _flatten(level: _Level, value: dict[str, Any], flat: dict[str, Any]) -> None:
    children = level.children
    for key, item in value.items():
        child = children.get(key)
        if child is None:
            if "." in key:
                raise _Dotted
            child = _level(children, key, level.prefix + key)
        if type(item) is dict and item:
            try:
                _flatten(child, item, flat)
            except _Dotted:
                _keep(child.path, item, flat)
        else:
            flat[child.path] = item


class _Dotted(Exception):
    """A key with a dot in it: its dict is kept whole (`_keep`)."""


def _keep(path: str, value: dict[str, Any], flat: dict[str, Any]) -> None:
    """A dict with a dotted key stays whole, one value at `path`: flattened, `{"a.b": 1,
    "a": {"b": 2}}` would give `a.b` twice and lose one. (A dotted key is never made a
    `_Level`, so only the rows that have one pay for the check.)"""
    prefix = path + "."
    for done in [k for k in flat if k.startswith(prefix)]:
        del flat[done]
    flat[path] = value


def seconds_ms(value: Any) -> int | None:
    """Slack's seconds (a number, or digits in a string) as epoch milliseconds, or None."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        return int(float(value) * 1000)
    except (ValueError, OverflowError):
        return None


def epoch_ms(record: Record | None, path: str, fallback: Any = None) -> int:
    """The field at `path` as OCSF's epoch milliseconds, taken from the record only when
    it is one; else the row's `p_event_time` (and the field stays in `unmapped`)."""
    found = seconds_ms(record.flat.get(path)) if record is not None else None
    if found is not None and record is not None:
        record.take(path)
        return found
    if isinstance(fallback, str):
        try:
            when = datetime.fromisoformat(fallback.replace("Z", "+00:00"))
        except ValueError:
            return 0
        return int(when.timestamp() * 1000)
    return 0


_SHARED: dict[tuple[str, tuple[int, str], int | None, int], Event] = {}


def event(
    cls: str,
    activity: tuple[int, str],
    time: int,
    metadata: dict[str, Any],
    status: int | None = 1,
    severity: int = 1,
) -> Event:
    """The fields every class shares, the uids and their captions agreeing (made once per
    class, activity, status and severity, copied per event)."""
    shared = _SHARED.get((cls, activity, status, severity))
    if shared is None:
        c = CLASSES[cls]
        shared = {
            "activity_id": activity[0],
            "activity_name": activity[1],
            "category_uid": c.category_uid,
            "category_name": c.category_name,
            "class_uid": c.uid,
            "class_name": c.caption,
            "type_uid": c.uid * 100 + activity[0],
            "type_name": f"{c.caption}: {'Other' if activity[0] == 99 else activity[1]}",
            "severity_id": severity,
            "severity": SEVERITY[severity],
        }
        if status is not None:
            shared["status_id"] = status
            shared["status"] = STATUS[status]
        if len(_SHARED) < 4096:
            _SHARED[(cls, activity, status, severity)] = shared
    out = shared.copy()
    out["time"] = time
    out["metadata"] = metadata
    return out


def finish(ev: Event, record: Record) -> Event:
    """Claim the `host` profile where the event has an `actor` (in 1.1 the profile brings
    it to every class used but File Hosting Activity), and leave what no field took in
    `unmapped`."""
    if "actor" in ev and ev["class_uid"] != CLASSES["file_hosting"].uid:
        ev["metadata"]["profiles"] = ["host"]
    ev["unmapped"] = record.unmapped()
    return ev


_PRODUCTS: dict[str, dict[str, Any]] = {}


def metadata(
    uid: str,
    log_name: str,
    feature: str,
    event_code: str | None = None,
    tenant_uid: str | None = None,
) -> dict[str, Any]:
    """`product` is one shared dict per feature (read only), not one per event."""
    product = _PRODUCTS.get(feature)
    if product is None:
        product = _PRODUCTS[feature] = {
            "name": "Slack",
            "vendor_name": "Slack",
            "feature": {"name": feature},
        }
    out = {"uid": uid, "version": VERSION, "product": product, "log_name": log_name}
    if event_code is not None:
        out["event_code"] = event_code
    if tenant_uid is not None:
        out["tenant_uid"] = tenant_uid
    return out


def user(
    uid: str | None,
    name: str | None = None,
    email: str | None = None,
    org: dict[str, str] | None = None,
    type_id: int | None = None,
    type: str | None = None,
) -> dict[str, Any] | None:
    """OCSF's user, or None when Slack named nobody (the caller leaves the fields in
    `unmapped`); an email OCSF would reject is not placed."""
    if uid is None and name is None:
        return None
    out: dict[str, Any] = {}
    if uid is not None:
        out["uid"] = uid
    if name is not None:
        out["name"] = name
    if email is not None:
        out["email_addr"] = email
    if org is not None:
        out["org"] = org
    if type_id is not None:
        out["type_id"] = type_id
    if type is not None:
        out["type"] = type
    return out


def slack_user(record: Record, at: str) -> dict[str, Any] | None:
    """A Slack user object at `at` (e.g. `actor.user`) as OCSF's user, or None when it
    has neither id nor name: OCSF's user needs one, so its email and team are then left
    in `unmapped`, not taken."""
    at_id, at_name, at_email, at_team = _USER_PATHS.get(at) or _user_paths(at)
    uid, name = record.text(at_id), record.text(at_name)
    if uid is None and name is None:
        return None
    flat = record.flat
    email = flat.get(at_email)
    placed = email if isinstance(email, str) and EMAIL.match(email) else None
    if placed:
        del flat[at_email]
    team = record.text(at_team)
    return user(uid, name, placed, {"uid": team} if team else None)


def _user_paths(at: str) -> tuple[str, str, str, str]:
    return (f"{at}.id", f"{at}.name", f"{at}.email", f"{at}.team")


_USER_PATHS = {at: _user_paths(at) for at in ("actor.user", "entity.user")}
"""The users' paths the mappers read, made once (see `_Level`)."""


IPV4 = re.compile(
    r"(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)",
    re.ASCII,
)
"""ASCII digits only: without `re.ASCII` a digit is any Unicode digit, and a dotted
quad of Arabic-Indic digits, which OCSF's `ip_t` rejects, was placed as an IP."""


def ip_of(record: Record, path: str) -> str | None:
    """An IP address OCSF's `ip_t` takes; anything else stays in `unmapped`. (A dotted
    quad is checked by a regex, ten times cheaper than `ipaddress` for the common case.)"""
    value = record.flat.get(path)
    if not isinstance(value, str):
        return None
    if not IPV4.fullmatch(value):
        try:
            ipaddress.ip_address(value)
        except ValueError:
            return None
    del record.flat[path]
    return value


def location_of(record: Record, **paths: str) -> dict[str, str] | None:
    """OCSF's location from the given fields, when it has one OCSF requires (country,
    region or city); otherwise the fields stay in `unmapped`."""
    found: dict[str, str] = {}
    for key, path in paths.items():
        value = record.flat.get(path)
        if isinstance(value, str) and value:
            found[key] = value
    if not found.keys() & {"country", "region", "city"}:
        return None
    for key in found:
        record.take(paths[key])
    return found


def endpoint(ip: str | None, location: dict[str, str] | None = None) -> dict[str, Any] | None:
    out: dict[str, Any] = {}
    if ip:
        out["ip"] = ip
    if location and out:
        out["location"] = location
    return out or None
