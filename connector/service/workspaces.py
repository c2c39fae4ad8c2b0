"""Which workspaces an Enterprise Grid source polls (`team_ids = "all"` or a list).

With "all" they come from `admin.teams.list`, read again every hour; the list is kept in
the state store, so a restart or an `admin.teams.list` that fails keeps the workspaces
it knew. A workspace that appears starts with `first_run_lookback_seconds` (its streams
have no checkpoint yet); one that disappears stops being polled, and says so once, while
its streams' state is kept.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from connector import clock
from connector.config.settings import SourceConfig
from connector.logs import REDACTOR
from connector.slack.errors import SlackError
from connector.slack.teams import WebApi, list_teams
from connector.state import StateStore

log = logging.getLogger(__name__)

REFRESH_SECONDS = 3600


def key(source_id: str) -> str:
    """Under the source's own prefix, so `state reset --source` forgets it too."""
    return f"{source_id}:workspaces"


class Workspaces:
    def __init__(self, cfg: SourceConfig, store: StateStore, client: Callable[[], WebApi]) -> None:
        self.cfg = cfg
        self._store = store
        self._client = client
        self._lock = threading.Lock()

    def known(self) -> dict[str, dict[str, Any]]:
        """The workspaces polled now, as kept (no call to Slack)."""
        if isinstance(self.cfg.team_ids, list):
            return {t: {"name": "", "domain": ""} for t in self.cfg.team_ids}
        return dict((self._store.alert(key(self.cfg.id)) or {}).get("teams", {}))

    def current(self, *, force: bool = False) -> dict[str, dict[str, Any]]:
        """The workspaces to poll, read from Slack first when an hour has passed."""
        if isinstance(self.cfg.team_ids, list):
            return self.known()
        state = self._store.alert(key(self.cfg.id)) or {}
        now = clock.now_ts()
        if not force and now - int(state.get("attempted_at") or 0) < REFRESH_SECONDS:
            return dict(state.get("teams", {}))
        with self._lock:
            try:
                listed = list_teams(self._client(), self.cfg.id)
            except Exception as exc:  # noqa: BLE001 - the workspaces known are kept
                detail = exc.detail if isinstance(exc, SlackError) else REDACTOR.scrub(str(exc))
                kept = dict(state.get("teams", {}))
                log.warning(
                    "admin.teams.list failed; keeping the workspaces known before",
                    extra={"source_id": self.cfg.id, "workspaces": len(kept), "error": detail},
                )
                self._store.set_alert(
                    key(self.cfg.id), {**state, "attempted_at": now, "error": detail}
                )
                return kept
            return self._update(state, listed, now)

    def empty(self) -> str:
        """Why there is nothing to poll (only with "all")."""
        error = (self._store.alert(key(self.cfg.id)) or {}).get("error")
        return f"no workspaces known{f' (admin.teams.list: {error})' if error else ''}"

    def _update(
        self, state: dict[str, Any], listed: dict[str, dict[str, str]], now: int
    ) -> dict[str, dict[str, Any]]:
        before = dict(state.get("teams", {}))
        removed = dict(state.get("removed", {}))
        teams = {
            t: {**info, "since": before.get(t, {}).get("since", now)} for t, info in listed.items()
        }
        for team in sorted(set(teams) - set(before)):
            removed.pop(team, None)
            log.info(
                "new workspace: polling it from first_run_lookback_seconds",
                extra={"source_id": self.cfg.id, "team_id": team, "workspace": teams[team]["name"]},
            )
        for team in sorted(set(before) - set(teams)):
            removed[team] = {**before[team], "removed_at": now}
            log.warning(
                "workspace no longer listed by admin.teams.list: it is not polled any more",
                extra={
                    "source_id": self.cfg.id,
                    "team_id": team,
                    "workspace": before[team].get("name"),
                },
            )
        self._store.set_alert(
            key(self.cfg.id),
            {
                "teams": teams,
                "removed": removed,
                "refreshed_at": now,
                "attempted_at": now,
                "error": None,
            },
        )
        return teams
