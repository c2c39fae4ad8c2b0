"""`slack-connector state show | reset | init`: read, reset or prepare the state store, print.

`show` opens the store read-only and without the lock, so on-call runs it beside the
daemon; `reset` asks first unless given `--yes`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any, TextIO

import orjson

from connector import clock
from connector.cli.output import say
from connector.config.settings import Settings
from connector.detections.catalog import KEY as CATALOG_KEY
from connector.logtypes import REGISTRY
from connector.service.workspaces import key as workspaces_key
from connector.state import StateError
from connector.stream.checkpoint import shown as shown_checkpoint

Say = Callable[[str, TextIO], None]


def run(settings: Settings, args: argparse.Namespace, say: Say, out: TextIO, err: TextIO) -> int:
    """`say` prints a line scrubbed of secrets (the CLI's one printer)."""
    if args.action == "init":
        say(settings.state.init(), out)
        return 0
    if args.action == "show":
        return state_show(settings, args, say, out)
    return state_reset(settings, args, say, out, err)


def state_show(settings: Settings, args: argparse.Namespace, say: Say, out: TextIO) -> int:
    """Read-only, without the lock: on-call runs it beside the daemon."""
    path = settings.state.location
    try:
        store = settings.state.open(read_only=True)
    except StateError as exc:
        if "no state file yet" not in str(exc):
            raise
        say(f"no state yet: {path} does not exist (nothing has been polled)", out)
        return 0
    try:
        rows = [r for r in store.summary() if args.source in (None, r["source_id"].split("@")[0])]
        alerts = sorted(store.open_alerts().items())
        catalog = catalog_summary(store.detection_value(CATALOG_KEY))
        grids = {
            s.id: store.alert(workspaces_key(s.id)) or {}
            for s in settings.sources
            if s.team_ids is not None and args.source in (None, s.id)
        }
    finally:
        store.close()
    if not rows and not alerts:
        which = f" for source {args.source!r}" if args.source else ""
        say(f"no state recorded yet{which} in {path}", out)
    for row in rows:
        checkpoint = shown_checkpoint(row["log_type"], row["checkpoint"])
        readable = {**readable_times(shown(row)), "checkpoint": checkpoint}
        say(orjson.dumps(readable, option=orjson.OPT_SORT_KEYS).decode(), out)
        kind = REGISTRY.get(row["log_type"])
        problem = kind().warning(row["checkpoint"]) if kind else None
        if problem:
            say(f"WARNING source {row['source_id']} {row['log_type']}: {problem}", out)
    for key, alert in alerts:
        say(orjson.dumps(readable_times({"open_alert": key, **alert})).decode(), out)
    if catalog is not None:
        say(orjson.dumps(readable_times({"slack_action_lists": catalog})).decode(), out)
    for source_id, kept in grids.items():
        line = {"workspaces_of": source_id, **kept}
        say(orjson.dumps(readable_times(line), option=orjson.OPT_SORT_KEYS).decode(), out)
    return 0


def shown(row: dict[str, Any]) -> dict[str, Any]:
    """A stream's row as on-call reads it: `last_event` (when rows last landed) is named
    `last_landed`, beside `newest_event` (the newest event time landed), and the token's
    fingerprint (`credential`, which notices a changed secret) is left out."""
    status = row.get("status")
    if not isinstance(status, dict):
        return row
    status = {k: v for k, v in status.items() if k != "credential"}
    if "last_event" in status:
        status["last_landed"] = status.pop("last_event")
    return {**row, "status": status}


def catalog_summary(state: dict[str, Any] | None) -> dict[str, Any] | None:
    """Slack's audit action lists as kept: their size and age, not the ~800 names."""
    if not state:
        return None
    fetched = state.get("fetched_at")
    return {
        "actions": len(state.get("actions", ())),
        "entity_types": len(state.get("entity_types", ())),
        "fetched_at": fetched,
        "age_seconds": clock.now_ts() - int(fetched) if fetched else None,
        "attempted_at": state.get("attempted_at"),
        "error": state.get("error"),
    }


TIME_FIELDS = frozenset(
    {
        "since",
        "last_success",
        "last_landed",
        "newest_event",
        "newest",
        "first_poll",
        "last_sent",
        "watermark",
        "oldest",
        "latest",
        "covered_from",
        "fetched_at",
        "attempted_at",
        "refreshed_at",
        "removed_at",
    }
)
"""Time fields of status and alerts; a checkpoint's own model says which of its fields
are times (`connector.stream.checkpoint`)."""


def late_renewals(store: Any, renew_every: float) -> list[str]:
    """Held leases not renewed for more than two renewal intervals (plus a second, since
    `renewed_at` is in whole seconds): the holder's renewals run late, or it is gone and
    the lease is about to move. Empty for a store without leases."""
    leases_now = getattr(store, "leases_now", None)
    if leases_now is None:
        return []
    late = []
    for (source, log_type), lease in sorted(leases_now().items()):
        age = lease["seconds_since_renewal"]
        if lease["owner"] and age is not None and age > 2 * renew_every + 1:
            late.append(f"{source} {log_type} held by {lease['owner']} renewed {age}s ago")
    return late


def readable_times(value: Any, key: str = "") -> Any:
    """Unix-second fields as RFC 3339 UTC, everything else as stored."""
    if isinstance(value, dict):
        return {k: readable_times(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [readable_times(v) for v in value]
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    if numeric and (key in TIME_FIELDS or key.endswith("_at")) and value >= 0:
        return clock.rfc3339(value)
    return value


def state_reset(
    settings: Settings, args: argparse.Namespace, say: Say, out: TextIO, err: TextIO
) -> int:
    what = f"source {args.source!r} log type {args.log_type!r}"
    if not any(s.id == args.source for s in settings.sources):
        say(f"note: source {args.source!r} is not in {args.config}", err)
    if not args.yes and not confirm(
        f"Reset {what}? Its next poll starts over from first_run_lookback_seconds. [y/N] "
    ):
        say("not reset", out)
        return 1
    if not _has_state(settings):
        say(f"nothing to reset: no state yet at {settings.state.location}", err)
        return 0
    store = settings.state.open(replica=False)
    try:
        found = store.reset(args.source, args.log_type)
    finally:
        store.close()
    if not found:
        say(f"nothing to reset: no state for {what}", err)
        return 0
    say(f"reset {what}", out)
    return 0


def _has_state(settings: Settings) -> bool:
    """Whether a state store exists, asked without creating one (a reset of nothing must
    not leave an empty state file behind)."""
    try:
        settings.state.open(read_only=True).close()
    except StateError as exc:
        if "no state file yet" in str(exc):
            return False
        raise
    return True


def confirm(prompt: str) -> bool:
    try:
        return input(prompt).strip().lower() in ("y", "yes")
    except EOFError:
        return False


def command(settings: Settings, args: argparse.Namespace) -> int:
    return run(settings, args, say, sys.stdout, sys.stderr)
