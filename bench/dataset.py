"""Realistic Slack log datasets, generated fast and kept lean.

Audit events are produced newest first and stored as one contiguous UTF-8 blob of JSON
objects separated by commas, plus an offset, date and sequence array per event. A page of
the Audit Logs API is then one slice of the blob: the fake server spends no CPU on
building, copying or encoding dicts, so what the benchmark measures is the client.

Each event is rendered from a small pool of templates (one per action / entity type /
details shape), filled in with `%` formatting: about a microsecond an event, instead of
building a nested dict and encoding it.
"""

from __future__ import annotations

import random
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

import orjson

SPAN_SECONDS = 20 * 3600  # events are dated within the last ~20 hours
NEWEST_AGE = 30  # the newest event is this many seconds old
USERS = 40_000
CHANNELS = 9_000
FILES = 3_989
ID_BASE = 100_000_000_000
FILE_BASE = 1_000_000_000
CHUNK = 50_000

# Placeholders in a template dict, and the f-string field each becomes. A rendered template
# is a compiled f-string over four tuples: e (per event), u (actor), n (entity user), c (channel).
_INT = {"__DATE__": "e[1]", "__SESSION__": "e[2]", "__BYTES__": "e[3]"}
_STR = {
    "__ID__": "e[0]",
    "__FID__": "e[4]",
    "__FNAME__": "e[5]",
    "__AUID__": "u[0]",
    "__ANAME__": "u[1]",
    "__AMAIL__": "u[2]",
    "__IP__": "u[3]",
    "__UA__": "u[4]",
    "__EUID__": "n[0]",
    "__ENAME__": "n[1]",
    "__CHID__": "c[0]",
    "__CHNAME__": "c[1]",
}
Render = Callable[[tuple[Any, ...], tuple[str, ...], tuple[str, str], tuple[str, str]], str]

_LOCATION = {"type": "enterprise", "id": "E1701NCCA", "name": "Birdland", "domain": "birdland"}
_USER_AGENTS = [
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Slack/4.38.125 Chrome/122.0.6261.156 Electron/29.4.0 Safari/537.36 Sonic Slack_SSB/4.38.125",
    "com.tinyspeck.chatlyio/24.05.10 (iPhone; iOS 17.4.1; Scale/3.00)",
    "Slack/24.05.10.0 (Pixel 8; Android 14)",
    "SlackAuditBot/1.0",
]
_FIRST = ["ana", "bo", "chen", "dmitri", "eve", "fatima", "gus", "hiro", "ines", "jose", "kwame"]
_LAST = ["smith", "garcia", "müller", "o'brien", "nakamura", "okafor", "dubois", "li", "ivanova"]


def _user(prefix: str, mail: bool = True) -> dict[str, Any]:
    user: dict[str, Any] = {"id": f"__{prefix}UID__", "name": f"__{prefix}NAME__"}
    if mail:
        user["email"] = f"__{prefix}MAIL__"
    user["team"] = "T01ABCDEFGH"
    return user


def _actor() -> dict[str, Any]:
    return {"type": "user", "user": _user("A")}


def _context(**extra: Any) -> dict[str, Any]:
    ctx: dict[str, Any] = {
        "location": _LOCATION,
        "ua": "__UA__",
        "ip_address": "__IP__",
        "session_id": "__SESSION__",
    }
    ctx.update(extra)
    return ctx


def _event(action: str, entity: dict[str, Any], details: Any = None, **ctx: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "id": "__ID__",
        "date_create": "__DATE__",
        "action": action,
        "actor": _actor(),
        "entity": entity,
        "context": _context(**ctx),
    }
    if details is not None:
        event["details"] = details
    return event


def _templates() -> list[tuple[float, Render]]:
    """(weight, template); weights roughly follow what a large org's audit log looks like."""
    user_e = {"type": "user", "user": _user("E", mail=False)}
    chan = {
        "type": "channel",
        "channel": {
            "id": "__CHID__",
            "name": "__CHNAME__",
            "privacy": "public",
            "is_shared": False,
            "is_org_shared": False,
        },
    }
    shared_chan = {
        "type": "channel",
        "channel": {
            "id": "__CHID__",
            "name": "__CHNAME__",
            "privacy": "private",
            "is_shared": True,
            "is_org_shared": True,
            "teams_shared_with": ["T01ABCDEFGH", "T02BCDEFGHI", "T03CDEFGHIJ"],
        },
    }
    file_e = {
        "type": "file",
        "file": {"id": "__FID__", "name": "__FNAME__", "filetype": "pdf", "title": "__FNAME__"},
    }
    app_e = {
        "type": "app",
        "app": {
            "id": "A0W7UKG8E",
            "name": "Jira Cloud",
            "is_distributed": True,
            "is_directory_approved": True,
            "scopes": ["channels:read", "chat:write", "users:read", "users:read.email"],
        },
    }
    ws_e = {
        "type": "workspace",
        "workspace": {"id": "T01ABCDEFGH", "name": "Birdland HQ", "domain": "birdland-hq"},
    }
    ent_e = {
        "type": "enterprise",
        "enterprise": {"id": "E1701NCCA", "name": "Birdland", "domain": "birdland"},
    }
    out: list[tuple[float, dict[str, Any]]] = [
        (22, _event("user_login", user_e)),
        (6, _event("user_logout", user_e)),
        (3, _event("user_login_failed", user_e, {"reason": "invalid_password"})),
        (
            4,
            _event(
                "user_session_invalidated",
                user_e,
                {"reason": "session_reset", "type": "admin_triggered"},
            ),
        ),
        (8, _event("user_channel_join", chan, {"reason": "invited", "inviter": "__AUID__"})),
        (3, _event("user_channel_leave", chan)),
        (2, _event("public_channel_created", chan)),
        (
            2,
            _event(
                "channel_moved",
                shared_chan,
                {"previous_workspace": "T01ABCDEFGH", "new_workspace": "T02BCDEFGHI"},
            ),
        ),
        (
            1,
            _event(
                "private_channel_converted_to_public",
                shared_chan,
                {"is_internal_integration": False},
            ),
        ),
        (14, _event("file_downloaded", file_e, {"file_size": "__BYTES__"})),
        (5, _event("file_uploaded", file_e)),
        (3, _event("file_public_link_created", file_e)),
        (
            2,
            _event(
                "app_installed",
                app_e,
                {
                    "app_owner_id": "__AUID__",
                    "is_internal_integration": False,
                    "approval_type": "admin_approved",
                    "new_scopes": ["channels:history", "files:read"],
                    "bot_scopes": ["chat:write", "commands"],
                },
            ),
        ),
        (
            1,
            _event(
                "app_scopes_expanded",
                app_e,
                {
                    "app_previously_approved": True,
                    "is_internal_integration": False,
                    "new_scopes": ["admin.users:read"],
                    "previous_scopes": ["users:read"],
                    "is_token_rotation_enabled_app": True,
                },
            ),
        ),
        (
            1,
            _event(
                "pref.session_duration_changed", ws_e, {"new_value": 720, "previous_value": 336}
            ),
        ),
        (1, _event("pref.allow_calls", ent_e, {"new_value": "true", "previous_value": "false"})),
        (
            1,
            _event(
                "role_change_to_admin",
                user_e,
                {"previous_role": "user", "new_role": "admin", "by_scim": False},
            ),
        ),
        (1, _event("user_created", user_e, {"email": "__AMAIL__", "type": "full_member"})),
        (
            1,
            _event(
                "anomaly",
                user_e,
                {
                    "action_timestamp": "__DATE__",
                    "location": "US",
                    "reason": ["asn", "ip_address", "session_fingerprint"],
                    "previous_ip_address": "198.51.100.7",
                    "previous_ua": "__UA__",
                },
            ),
        ),
    ]
    rendered = []
    for weight, event in out:
        text = orjson.dumps(event).decode().replace("{", "{{").replace("}", "}}")
        for name, expr in _INT.items():
            text = text.replace(f'"{name}"', "{" + expr + "}")
        for name, expr in _STR.items():
            text = text.replace(name, "{" + expr + "}")
        assert "__" not in text, text
        # Values are plain ASCII/UTF-8 words (no quote or backslash), so no JSON escaping.
        rendered.append((weight, eval(f"lambda e, u, n, c: f{text!r}")))
    return rendered


@dataclass
class AuditData:
    blob: bytes  # event JSON objects newest first, each followed by a ","
    offsets: array  # type: ignore[type-arg]  # len n+1; event i is blob[offsets[i]:offsets[i+1]-1]
    dates: array  # type: ignore[type-arg]  # date_create, non-increasing
    seqs: array  # type: ignore[type-arg]  # strictly decreasing (newer = higher, as in FakeSlack)

    @property
    def count(self) -> int:
        return len(self.dates)

    def event(self, i: int) -> bytes:
        return self.blob[self.offsets[i] : self.offsets[i + 1] - 1]

    def dicts(self) -> list[dict[str, Any]]:
        """Every event as a dict, oldest first (for the unmodified FakeSlack.add_audit)."""
        return orjson.loads(b"[" + self.blob[:-1] + b"]")[::-1]  # type: ignore[no-any-return]


def _user_values(u: int) -> tuple[str, ...]:
    """(id, name, email, ip, user agent) of user `u`; one in nine signs in over IPv6."""
    fi, la = _FIRST[u % len(_FIRST)], _LAST[u % len(_LAST)]
    ip = (
        f"2001:db8:{u % 65536:x}::{u * 7 % 65536:x}"
        if u % 9 == 0
        else f"{10 + u % 200}.{u % 251}.{u * 3 % 253}.{1 + u % 250}"
    )
    mail = f"{fi}.{la.replace(chr(39), '')}{u}@birdland.example"
    return (f"W{u:08d}", f"{fi}.{la}{u}", mail, ip, _USER_AGENTS[u % len(_USER_AGENTS)])


def _dates(n: int, now: int, rng: random.Random) -> array:  # type: ignore[type-arg]
    """Non-increasing unix seconds within SPAN_SECONDS, with same-second bursts."""
    top = now - NEWEST_AGE
    step = SPAN_SECONDS / max(n, 1)
    dates = array("q", (top - int(i * step) for i in range(n)))
    i = 0
    while i < n:
        # a burst (a bulk action, a SCIM sync, a script) every ~500 events: 20..400 events
        i += rng.randint(200, 800)
        size = int(rng.paretovariate(1.3) * 20)
        end = min(n, i + min(size, 400))
        if i < n:
            dates[i:end] = array("q", [dates[i]] * (end - i))
        i = end
    return dates


def audit(n: int, now: int, seed: int = 7) -> AuditData:
    rng = random.Random(seed)
    templates = _templates()
    weights = list(accumulate(w for w, _ in templates))
    renders = [r for _, r in templates]
    dates = _dates(n, now, rng)
    seqs = array("q", range(n, 0, -1))
    offsets = array("q", [0])
    parts: list[bytes] = []
    first = [f.capitalize() for f in _FIRST]
    users = [_user_values(u) for u in range(USERS)]
    named = [(f"W{e:08d}", f"{first[e % len(first)]} {e}") for e in range(USERS)]
    channels = [(f"C{c:08d}", f"proj-{c}-{_LAST[c % len(_LAST)]}") for c in range(CHANNELS)]
    files = [f"Q{1 + k % 4} report {k}.pdf" for k in range(FILES)]
    heads = [
        f"{rng.getrandbits(32):08x}-{rng.getrandbits(16):04x}-4{k >> 4:03x}-a{k & 15:x}"
        for k in range(4096)
    ]
    pos = 0
    for start in range(0, n, CHUNK):
        stop = min(n, start + CHUNK)
        picked = rng.choices(renders, cum_weights=weights, k=stop - start)
        rendered = []
        for i in range(start, stop):
            u = (i * 7919 + 13) % USERS
            # ids: a UUID's shape, unique through the 12 decimal digits at the end
            event = (
                heads[i & 4095] + str(i % 100 + 100) + "-" + str(ID_BASE + i),
                dates[i],
                913888259765 + u * 17 + i % 3,
                1024 + i * 7 % 50_000_000,
                "F" + str(FILE_BASE + i),
                files[i % FILES],
            )
            render = picked[i - start]
            line = render(event, users[u], named[(i * 104729 + 7) % USERS], channels[i % CHANNELS])
            rendered.append(line.encode())
        parts.append(b",".join(rendered) + b",")
        offsets.extend(accumulate((len(line) + 1 for line in rendered), initial=pos))
        offsets.pop(len(offsets) - len(rendered) - 1)  # `initial` repeats the last offset
        pos = offsets[-1]
    return AuditData(b"".join(parts), offsets, dates, seqs)


def access(n: int, now: int, span: int = SPAN_SECONDS) -> list[dict[str, Any]]:
    """`n` distinct (user, IP, user agent) rows; date_last within the last `span` seconds
    (~20 hours by default)."""
    rows = []
    for i in range(n):
        u = i % (n // 3 + 1)
        first = now - span + (i * 7919) % (span - NEWEST_AGE)
        rows.append(
            {
                "user_id": f"U{u:08d}",
                "username": f"{_FIRST[u % len(_FIRST)]}.{_LAST[u % len(_LAST)]}{u}",
                "date_first": first,
                "date_last": first + (i * 104729) % (now - NEWEST_AGE - first + 1),
                "count": 1 + i % 40,
                "ip": f"{11 + i % 200}.{(i >> 8) % 251}.{i % 253}.{1 + i % 250}",
                "user_agent": _USER_AGENTS[i % len(_USER_AGENTS)],
                "isp": ["Comcast", "BT", "Deutsche Telekom", "NTT", "Jio"][i % 5],
                "country": ["US", "GB", "DE", "JP", "IN"][i % 5],
                "region": ["CA", "ENG", "BE", "13", "MH"][i % 5],
            }
        )
    return rows


def integration(n: int, now: int) -> list[dict[str, Any]]:
    """`n` integration changes, newest within the last ~20 hours; `date` a string, as Slack."""
    rows = []
    for i in range(n):
        row: dict[str, Any] = {
            "user_id": f"U{i % 300:08d}",
            "user_name": f"admin{i % 300}",
            "date": str(now - NEWEST_AGE - (i * SPAN_SECONDS) // max(n, 1)),
            "change_type": ["added", "removed", "enabled", "disabled", "expanded"][i % 5],
            "scope": "chat:write,channels:read,users:read",
        }
        if i % 3 == 0:
            row.update(service_id=1000 + i, service_type="Google Calendar")
        elif i % 3 == 1:
            row.update(app_id=f"A{i:08d}", app_type="App", reason="user")
        else:
            row.update(
                service_id=str(2000 + i),
                service_type="RSS",
                rss_feed=True,
                rss_feed_change_type="added",
                rss_feed_title="Status page",
                rss_feed_url=f"https://status.example.com/feed/{i}",
                channel=f"C{i:08d}",
            )
        rows.append(row)
    return rows
