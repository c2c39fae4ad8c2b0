"""`slack_new_action` and `slack_unlisted_action`: what Slack says the Audit Logs API can
return, against what the connector knew and what lands.

Once a day (and at start) the lists from `/audit/v1/actions` and `/audit/v1/schemas` are
read and kept in the state store. Names are only ever added to what is known, so a short
or partial answer one day cannot make everything "new" the next; the first successful
read is the baseline and alerts on nothing. A failed or malformed read is logged and
tried again a day later, with no alert: `check` says when the lists grow stale.

Each new name, and each landed action Slack's list does not hold, alerts once: the
marks (`StateStore.mark_detection`, kept: one per name) hold across restarts and replicas.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from connector import clock
from connector.alerts.base import Alert
from connector.config.detections import CatalogConfig
from connector.slack.catalog import Listing
from connector.slack.errors import SlackError
from connector.state import StateStore

log = logging.getLogger(__name__)

KEY = "detections:catalog"
NEW_RULE = "slack_new_action"
UNLISTED_RULE = "slack_unlisted_action"
LOG_TYPE = "audit"
_ACTION = re.compile(rb'"action":"((?:[^"\\]|\\.)*)"')
Fetch = Callable[[], Listing]
MARKED_MAX = 4096
"""Unlisted actions remembered as marked, per process: beyond that, the store decides."""


class Catalog:
    def __init__(
        self,
        cfg: CatalogConfig,
        store: StateStore,
        submit: Callable[[Alert], None],
        fetch: Fetch,
        source: tuple[str, str],
    ) -> None:
        self.cfg = cfg
        self._store = store
        self._submit = submit
        self._fetch = fetch
        self._source_id, self._label = source
        self._lock = threading.Lock()
        self._known: frozenset[str] = frozenset(self.state().get("actions", ()))
        self._marked: set[str] = set()

    def state(self) -> dict[str, Any]:
        return self._store.detection_value(KEY) or {}

    def due(self) -> bool:
        attempted = int(self.state().get("attempted_at") or 0)
        return clock.now_ts() - attempted >= self.cfg.refresh_seconds

    def refresh(self, *, force: bool = False) -> int:
        """Read Slack's lists when a day has passed (or `force`); returns the names alerted."""
        with self._lock:
            if not force and not self.due():
                return 0
            state, now = self.state(), clock.now_ts()
            try:
                listing = self._fetch()
            except SlackError as exc:
                log.warning(
                    "could not read Slack's audit action lists; trying again in %ds",
                    self.cfg.refresh_seconds,
                    extra={"error": exc.detail, "method": exc.method},
                )
                self._store.set_detection_value(
                    KEY, {**state, "attempted_at": now, "error": exc.detail}
                )
                return 0
            new = self._learn(state, listing, now)
        return self._alert_new(new, listing) if new else 0

    def _learn(self, state: dict[str, Any], listing: Listing, now: int) -> list[tuple[str, str]]:
        """Store the union of what was ever listed; the names not known before (none on
        a list's first read, its baseline)."""
        known_actions = set(state.get("actions", ()))
        known_types = set(state.get("entity_types", ()))
        new = [("action", n) for n in sorted(set(listing.actions) - known_actions)]
        new += [("entity type", t) for t in sorted(listing.entity_types - known_types)]
        baseline = {"action": not known_actions, "entity type": not known_types}
        actions = sorted(known_actions | set(listing.actions))
        self._store.set_detection_value(
            KEY,
            {
                "actions": actions,
                "entity_types": sorted(known_types | listing.entity_types),
                "listed_actions": len(listing.actions),
                "fetched_at": now,
                "attempted_at": now,
                "error": None,
            },
        )
        self._known = frozenset(actions)
        return [(kind, name) for kind, name in new if not baseline[kind]]

    def _alert_new(self, new: list[tuple[str, str]], listing: Listing) -> int:
        now = clock.now_ts()
        fresh = [
            (k, n) for k, n in new if self._store.mark_detection(f"{KEY}:new:{k}:{n}", {"at": now})
        ]
        if not fresh:
            return 0
        shown = [
            f"{n} ({listing.actions[n]})" if k == "action" and listing.actions.get(n) else n
            for k, n in fresh
        ]
        digest = hashlib.sha256("\n".join(f"{k}:{n}" for k, n in fresh).encode()).hexdigest()
        kinds = sorted({k for k, _ in fresh})
        self._send(
            Alert(
                key=f"{KEY}:new:{digest[:16]}",
                rule=NEW_RULE,
                status="trigger",
                source_id=self._source_id,
                source_label=self._label,
                log_type=LOG_TYPE,
                summary=f"Slack lists {len(fresh)} new audit {' and '.join(kinds)}"
                f"{'s' if len(fresh) > 1 else ''}: {_few(shown)}",
                detail="\n".join(f"new {k}: {s}" for (k, _), s in zip(fresh, shown, strict=True)),
                since=now,
                hint="They land as sent already; check that your SIEM's parsers and "
                "rules know them.",
                context={
                    "actions": ", ".join(n for k, n in fresh if k == "action"),
                    "entity_types": ", ".join(n for k, n in fresh if k == "entity type"),
                },
                severity="info",
            )
        )
        return len(fresh)

    def watch(self, source_id: str, log_type: str) -> Callable[[list[bytes]], int] | None:
        """Landed audit rows, once Slack's list has been read (before, everything would
        look unlisted)."""
        if not self.cfg.enabled or log_type != LOG_TYPE or not self._known:
            return None
        return self.scan

    def poll_done(self, source_id: str, log_type: str) -> None:
        """Each unlisted action was alerted as its page was scanned."""

    def scan(self, lines: Sequence[bytes]) -> int:
        """Only a line with an `"action"` value outside the list is parsed, to check that
        it is the event's own action and not one nested in its details."""
        known, raised = self._known, 0
        for line in lines:
            if all(m.decode("utf-8", "replace") in known for m in _ACTION.findall(line)):
                continue
            row = orjson.loads(line)
            action = row.get("action")
            if isinstance(action, str) and action not in known:
                raised += self._unlisted(action, row)
        return raised

    def _unlisted(self, action: str, row: dict[str, Any]) -> int:
        """A mark is set once and never cleared, so an action this process has seen marked
        costs no further state reads or writes: one unlisted action on every row would
        otherwise cost two state-store round trips per row."""
        if action in self._marked:
            return 0
        fresh = self._store.mark_detection(f"{KEY}:unlisted:{action}", {"at": clock.now_ts()})
        if len(self._marked) < MARKED_MAX:
            self._marked.add(action)
        if not fresh:
            return 0
        state = self.state()
        fetched = clock.rfc3339(int(state.get("fetched_at") or 0))
        self._send(
            Alert(
                key=f"{KEY}:unlisted:{action}",
                rule=UNLISTED_RULE,
                status="trigger",
                source_id=str(row.get("p_source_id") or self._source_id),
                source_label=str(row.get("p_source_label") or self._label),
                log_type=LOG_TYPE,
                summary=f"Audit action not in Slack's list: {action}",
                detail=(
                    f"An event with action {action!r} landed (as sent); Slack's /audit/v1/actions, "
                    f"read {fetched}, lists {len(self._known)} actions and not this one."
                ),
                since=clock.now_ts(),
                hint="Slack may list it tomorrow (a slack_new_action alert then says so); "
                "check that your SIEM's parsers and rules know it.",
                context={
                    "action": action,
                    "event_id": str(row.get("id", "")),
                    "p_row_id": str(row.get("p_row_id", "")),
                },
                severity="low",
            )
        )
        return 1

    def _send(self, alert: Alert) -> None:
        log.warning("alert", extra={"alert_key": alert.key, "rule": alert.rule})
        self._submit(alert)


def _few(names: list[str], most: int = 5) -> str:
    more = len(names) - most
    return ", ".join(names[:most]) + (f" and {more} more" if more > 0 else "")
