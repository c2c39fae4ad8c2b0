"""The fake Slack's org-level extras: the anomaly allow-list (`admin.audit.anomaly.allow.*`)
and the Audit Logs API's catalog (`/audit/v1/actions`, `/audit/v1/schemas`), which tests
change over time. Part of `FakeSlack`; kept apart so the log endpoints stay readable.
"""

from __future__ import annotations

import threading
from typing import Any

ALLOW_GET = "admin.audit.anomaly.allow.getItem"
ALLOW_UPDATE = "admin.audit.anomaly.allow.updateItem"
TEAMS_LIST = "admin.teams.list"
ACTIONS = "actions"
SCHEMAS = "schemas"
METHODS = frozenset({ALLOW_GET, ALLOW_UPDATE, TEAMS_LIST, ACTIONS, SCHEMAS})

DEFAULT_ACTIONS: dict[str, list[str]] = {
    "workspace_or_org": ["workspace_created", "organization_created", "pref.sso_setting_changed"],
    "user": ["user_created", "user_login", "user_logout", "user_login_failed"],
    "file": ["file_downloaded", "file_uploaded"],
    "channel": ["user_channel_join", "public_channel_created"],
    "app": ["app_installed", "app_scopes_expanded"],
    "anomaly": ["anomaly"],
}
DEFAULT_SCHEMAS = ["workspace", "enterprise", "user", "file", "channel", "app", "message"]


class ApiError(Exception):
    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


class AdminApi:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.trusted_cidrs: list[str] = []
        self.trusted_asns: list[int] = []
        self.allow_spelling = ("trusted_cidrs", "trusted_asns")
        """The names getItem answers with (Slack's docs use both spellings)."""
        self.updates: list[dict[str, str]] = []
        self.actions: dict[str, list[str]] = {k: list(v) for k, v in DEFAULT_ACTIONS.items()}
        self.schemas: list[str] = list(DEFAULT_SCHEMAS)
        self.teams: list[dict[str, str]] = []
        self.teams_page: int | None = None
        """Workspaces per admin.teams.list page whatever `limit` asks (several pages)."""
        self.catalog_body: bytes | None = None
        """When set, /actions and /schemas answer 200 with these bytes (malformed answers)."""

    def add_team(self, team_id: str, name: str) -> None:
        with self._lock:
            self.teams.append({"id": team_id, "name": name, "domain": name})

    def remove_team(self, team_id: str) -> None:
        with self._lock:
            self.teams = [t for t in self.teams if t["id"] != team_id]

    def teams_list(self, params: dict[str, str]) -> dict[str, Any]:
        """Cursor paging; the cursor is an offset."""
        try:
            limit = int(params.get("limit") or 100)
            offset = int(params.get("cursor") or "0")
        except ValueError:
            raise ApiError("invalid_cursor") from None
        with self._lock:
            size = self.teams_page or limit
            page = [dict(t) for t in self.teams[offset : offset + size]]
            more = offset + size < len(self.teams)
        cursor = str(offset + size) if more else ""
        return {"ok": True, "teams": page, "response_metadata": {"next_cursor": cursor}}

    def add_action(self, category: str, name: str) -> None:
        with self._lock:
            self.actions.setdefault(category, []).append(name)

    def allow_get(self) -> dict[str, Any]:
        with self._lock:
            cidrs, asns = self.allow_spelling
            return {"ok": True, cidrs: list(self.trusted_cidrs), asns: list(self.trusted_asns)}

    def allow_update(self, params: dict[str, str]) -> dict[str, Any]:
        """Replaces the whole list, as Slack does; either spelling of each argument."""
        cidrs = params.get("trusted_cidr", params.get("trusted_cidrs"))
        asns = params.get("trusted_asns", params.get("trusted_asn"))
        if cidrs is None and asns is None:
            raise ApiError("invalid_arguments")
        with self._lock:
            self.updates.append(dict(params))
            self.trusted_cidrs = [c for c in (cidrs or "").split(",") if c]
            self.trusted_asns = [int(a) for a in (asns or "").split(",") if a]
        return {"ok": True}

    def catalog(self, method: str) -> dict[str, Any]:
        """The shapes of slack_sdk's AuditLogsClient mock: actions by category, and one
        object per entity type."""
        with self._lock:
            if method == ACTIONS:
                return {"actions": {k: list(v) for k, v in self.actions.items()}}
            return {"schemas": [{"type": t, t: {"id": "string"}} for t in self.schemas]}
