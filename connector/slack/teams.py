"""`admin.teams.list`: the workspaces of an Enterprise Grid organisation (org-level token,
`admin.teams:read`, Tier 2), read with cursor paging. A cursor Slack hands back twice
is an error, never a loop."""

from __future__ import annotations

from typing import Any, Protocol

from connector.slack.errors import SlackTransientError

METHOD = "admin.teams.list"
PAGE = 100
MAX_PAGES = 1000


class WebApi(Protocol):
    def web(self, method: str, params: dict[str, Any], *, post: bool = False) -> dict[str, Any]: ...


def list_teams(client: WebApi, source_id: str) -> dict[str, dict[str, str]]:
    """Workspace id → its `name` and `domain`, every page read."""
    teams: dict[str, dict[str, str]] = {}
    cursor, seen = "", set()
    for _ in range(MAX_PAGES):
        body = client.web(METHOD, {"limit": PAGE, "cursor": cursor or None})
        listed = body.get("teams")
        if not isinstance(listed, list):
            raise SlackTransientError(source_id, METHOD, "answer without a teams list")
        for team in listed:
            if isinstance(team, dict) and isinstance(team.get("id"), str) and team["id"]:
                teams[team["id"]] = {
                    "name": str(team.get("name") or ""),
                    "domain": str(team.get("domain") or ""),
                }
        meta = body.get("response_metadata")
        cursor = str(meta.get("next_cursor") or "") if isinstance(meta, dict) else ""
        if not cursor:
            return teams
        if cursor in seen:
            raise SlackTransientError(source_id, METHOD, "Slack repeated a cursor")
        seen.add(cursor)
    raise SlackTransientError(source_id, METHOD, f"more than {MAX_PAGES} pages of workspaces")
