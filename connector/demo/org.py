"""The demo's organisation: its people, their usual addresses and devices, its apps, and the
audit entries and integration changes they make, shaped like Slack's.

Everything here is a function of the random generator it is handed, so the simulator can
seed the past by the hour and the live stream by its start time. Addresses are RFC 5737
documentation ranges and mail domains are example.com.
"""

from __future__ import annotations

import random
import uuid
from typing import Any

Json = dict[str, Any]

ENTERPRISE = {"id": "E0DEMOGRID", "name": "Demo Enterprise Grid", "domain": "demo-grid"}
WORKSPACES = [
    {"id": "T0DEMOENG", "name": "Engineering", "domain": "demo-eng"},
    {"id": "T0DEMOSALES", "name": "Sales", "domain": "demo-sales"},
]
PEOPLE = (
    "Ada Lovelace, Grace Hopper, Alan Turing, Katherine Johnson, Linus Pauling, Barbara Liskov, "
    "Dennis Ritchie, Margaret Hamilton, Ken Thompson"
).split(", ")
NETWORKS = [  # (RFC 5737 prefix, isp, country, region)
    ("192.0.2.", "Example Fiber", "US", "CA"),
    ("198.51.100.", "Documentation Telecom", "GB", "ENG"),
    ("203.0.113.", "Test-Net Mobile", "DE", "BE"),
]
AGENTS = [
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Slack/4.41.105 Chrome/128.0.6613.186 Electron/32.2.5 Safari/537.36 Sonic Slack_SSB/4.41.105",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/131.0.0.0 Safari/537.36",
    "com.tinyspeck.chatlyio/24.11.10 (iPhone; iOS 18.1.1; Scale/3.00)",
    "com.Slack/24.11.10.0 (Android 15; Pixel 8)",
]
APPS = [
    ("A0DEMOJIRA", "Jira Cloud", ["chat:write", "links:read"], ["channels:history"]),
    ("A0DEMOPD", "PagerDuty", ["chat:write", "commands"], ["users:read.email"]),
    ("A0DEMODRIVE", "Google Drive", ["files:read", "links:write"], ["files:write"]),
]
SERVICES = [
    (1234567890, "Google Calendar", "incoming-webhook"),
    ("3456789012", "RSS", "bot"),
    (2345678901, "Incoming WebHooks", "incoming-webhook"),
]
CHANNELS = ["general", "incident-response", "deploys", "sales-leads", "security", "random"]
ACTIONS = {
    "user_login": 30,
    "user_logout": 10,
    "file_downloaded": 25,
    "file_shared": 15,
    "channel_created": 6,
    "app_installed": 3,
    "app_scopes_expanded": 2,
    "role_change_to_admin": 1,
    "anomaly": 2,
    "pref.sso_setting_changed": 1,
}


class Org:
    """The people of a seeded organisation and the events they make."""

    def __init__(self, rng: random.Random) -> None:
        self.users = [_user(rng, i, name) for i, name in enumerate(PEOPLE)]
        self.homes = {u["id"]: [address(rng) for _ in range(2)] for u in self.users}

    def ip(self, rng: random.Random, user: Json) -> tuple[str, int]:
        """Mostly one of the user's usual addresses; now and then a trip somewhere new."""
        return address(rng) if rng.random() < 0.1 else rng.choice(self.homes[user["id"]])

    def audit_event(self, rng: random.Random, ts: int) -> Json:
        """One audit entry shaped like Slack's: the entity type follows from the action."""
        action = rng.choices(list(ACTIONS), weights=list(ACTIONS.values()))[0]
        actor = rng.choice(self.users)
        where = rng.choice([ENTERPRISE, *WORKSPACES])
        entity: Json = {"type": "user", "user": actor}
        details: Json | None = None
        ip = self.ip(rng, actor)[0]
        if action in ("file_downloaded", "file_shared"):
            name = rng.choice(["roadmap.pdf", "q3-pipeline.xlsx", "diagram.png", "notes.txt"])
            ftype = {"pdf": "pdf", "xlsx": "xlsx", "png": "png", "txt": "text"}[name.split(".")[1]]
            file = {"id": slack_id(rng, "F"), "name": name, "filetype": ftype, "title": name}
            entity = {"type": "file", "file": file}
            if action == "file_shared":
                details = {"shared_with": {"channel_id": slack_id(rng, "C")}}
        elif action == "channel_created":
            private = rng.random() < 0.3
            entity = {
                "type": "channel",
                "channel": {
                    "id": slack_id(rng, "C"),
                    "name": f"{rng.choice(CHANNELS)}-{ts % 1000}",
                    "privacy": "private" if private else "public",
                    "is_shared": False,
                    "is_org_shared": False,
                },
            }
        elif action in ("app_installed", "app_scopes_expanded"):
            app_id, app_name, scopes, extra = rng.choice(APPS)
            granted = scopes + extra if action == "app_scopes_expanded" else scopes
            entity = {
                "type": "app",
                "app": {
                    "id": app_id,
                    "name": app_name,
                    "scopes": granted,
                    "is_distributed": True,
                    "is_directory_approved": True,
                },
            }
            if action == "app_scopes_expanded":
                details = {"new_scopes": granted, "previous_scopes": scopes}
        elif action == "role_change_to_admin":
            entity = {"type": "user", "user": rng.choice(self.users)}
        elif action == "anomaly":  # a sign-in from an address this user never used
            ip, net = address(rng)
            details = {
                "action_timestamp": ts * 1_000_000 + rng.randrange(10**6),
                "location": f"{NETWORKS[net][3]}, {NETWORKS[net][2]}",
                "previous_ip_address": rng.choice(self.homes[actor["id"]])[0],
                "previous_ua": rng.choice(AGENTS),
                "reason": ["asn", "ip_address"],
            }
        elif action == "pref.sso_setting_changed":
            entity = {"type": "workspace", "workspace": rng.choice(WORKSPACES)}
            details = {"previous_value": "required", "new_value": "optional"}
        event: Json = {
            "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "date_create": ts,
            "action": action,
            "actor": {"type": "user", "user": actor},
            "entity": entity,
            "context": {
                "location": {"type": "enterprise" if where is ENTERPRISE else "workspace", **where},
                "ua": rng.choice(AGENTS),
                "ip_address": ip,
                "session_id": rng.randrange(10**12, 10**13),
            },
        }
        if details is not None:
            event["details"] = details
        return event

    def integration_log(self, rng: random.Random, ts: int) -> Json:
        """An app (`app_id`) or legacy service (`service_id`, int or str) change; `date` a str."""
        user = rng.choice(self.users)
        change = rng.choice(["added", "removed", "enabled", "disabled"])
        log: Json = {
            "user_id": user["id"],
            "user_name": user["email"].split("@")[0],
            "date": str(ts),
            "change_type": change,
        }
        if rng.random() < 0.6:
            app_id, app_name, scopes, _ = rng.choice(APPS)
            log.update(app_id=app_id, app_type=app_name, scope=",".join(scopes))
        else:
            service_id, service_type, scope = rng.choice(SERVICES)
            log.update(
                service_id=service_id,
                service_type=service_type,
                scope=scope,
                channel=slack_id(rng, "C"),
            )
        if change == "disabled":
            log["reason"] = rng.choice(["user", "rate_limits", "errors"])
        return log


def _user(rng: random.Random, i: int, name: str) -> Json:
    team = WORKSPACES[i % len(WORKSPACES)]["id"]
    email = name.lower().replace(" ", ".") + "@example.com"
    return {"id": slack_id(rng, "W"), "name": name, "email": email, "team": team}


def address(rng: random.Random) -> tuple[str, int]:
    """An address in one of the networks, with that network's index."""
    net = rng.randrange(len(NETWORKS))
    return f"{NETWORKS[net][0]}{rng.randrange(1, 255)}", net


def slack_id(rng: random.Random, prefix: str) -> str:
    return f"{prefix}0{rng.randrange(16**8):08X}"
