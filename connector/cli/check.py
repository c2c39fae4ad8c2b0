"""`slack-connector check`: everything a poll needs, one line per part, as each completes.

On-call runs it inside the live pod when an alert says so, so it takes no lock, creates no
state file or output directory, and gives up on an unreachable Slack at once instead of
retrying for a minute: a check answers "does this work right now".

A reference that cannot be resolved (a token or alert URL from an unset variable, a token
file that is missing, a directory or unreadable) is a configuration error like any other:
its line names the field, and `exit_code` makes the command exit 2, not 1. A source whose
token cannot be read is not called; its line points at the secret's.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple

import httpx

from connector import __version__
from connector.cli.output import say
from connector.cli.state import catalog_summary, late_renewals
from connector.config.secret_check import secret_problems
from connector.config.settings import Settings, SourceConfig
from connector.credentials import provider as credentials
from connector.detections.catalog import KEY as CATALOG_KEY
from connector.logs import REDACTOR
from connector.logtypes import REGISTRY
from connector.ocsf.output import outputs as ocsf_outputs
from connector.service.runner import slack_client
from connector.sinks import build
from connector.sinks.base import SinkError
from connector.slack.client import RetryPolicy, SlackClient
from connector.slack.errors import SlackError
from connector.slack.ratelimit import RateBudgets
from connector.slack.teams import list_teams
from connector.state import StateError

CONNECT_SECONDS = 5.0


EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2
_TOKEN_FIELD = re.compile(r"sources\[(\d+)\]\.(?:token|token_env|token_file)")


class Line(NamedTuple):
    name: str
    ok: bool
    detail: str
    field: str | None = None
    """The configuration field at fault, when the failure is the configuration's."""
    warn: bool = False


def run(settings: Settings) -> Iterator[Line]:
    """Secrets, state, output, then one authenticated call per source (with `team_ids`, per
    workspace) and log type."""
    unreadable: dict[int, str] = {}
    for where, problem in secret_problems(settings):
        token = _TOKEN_FIELD.fullmatch(where)
        if token:
            unreadable.setdefault(int(token[1]), where)
        yield Line(f"secret {where}", False, problem, field=where)
    yield _state(settings)
    yield _output(settings)
    yield from _ocsf(settings)
    yield _alerts(settings)
    budgets = RateBudgets()
    for i, source in enumerate(settings.sources):
        if i in unreadable:
            where = unreadable[i]
            yield Line(f"source {source.id}", False, f"not called: {where} cannot be read")
            continue
        yield from _source(settings, source, budgets)


def exit_code(lines: Iterable[Line]) -> int:
    """2 if the configuration is at fault anywhere, else 1 if anything failed, else 0."""
    failed = [line for line in lines if not line.ok]
    if any(line.field for line in failed):
        return EXIT_CONFIG
    return EXIT_FAILED if failed else EXIT_OK


def _state(settings: Settings) -> Line:
    path = settings.state.location
    try:
        store = settings.state.open(read_only=True)
    except StateError as exc:
        if "no state file yet" in str(exc):
            return Line("state", True, f"no state file yet at {path}; `run` creates it")
        return Line("state", False, str(exc))
    try:
        store.ping()
        late = late_renewals(store, getattr(settings.state, "renew_every", 0.0))
        lists = catalog_summary(store.detection_value(CATALOG_KEY))
    except StateError as exc:
        return Line("state", False, str(exc))
    finally:
        store.close()
    warnings = [f"leases renewed late: {'; '.join(late)}"] if late else []
    stale = _stale_lists(settings, lists)
    if stale:
        warnings.append(stale)
    if warnings:
        return Line("state", True, f"readable at {path}; {'; '.join(warnings)}", warn=True)
    return Line("state", True, f"readable at {path}")


def _stale_lists(settings: Settings, lists: dict[str, Any] | None) -> str | None:
    """Slack's audit action lists are read daily; older than `stale_after_seconds` (two
    days), new-action alerts have stopped working."""
    catalog = settings.detections.catalog
    if not catalog.enabled or not any("audit" in s.log_types for s in settings.sources):
        return None
    if lists is None:
        return "Slack's audit action lists were never read (`run` reads them at start)"
    age = lists["age_seconds"]
    if age is None or age > catalog.stale_after_seconds:
        when = f"{age // 3600} h ago" if age is not None else "never successfully"
        error = f" (last error: {lists['error']})" if lists.get("error") else ""
        return f"Slack's audit action lists were read {when}{error}"
    return None


def _output(settings: Settings) -> Line:
    name = f"output {settings.output.type}"
    try:
        sink = build(settings.output)
    except Exception as exc:  # noqa: BLE001 - check reports every failure, one per line
        return Line(name, False, f"{type(exc).__name__}: {exc}")
    try:
        probe = sink.probe()
    except SinkError as exc:
        return Line(name, False, str(exc))
    finally:
        sink.close()
    if settings.state.shared and probe.fences is False:
        return Line(
            name,
            False,
            f"{probe.detail}; replicas need the store to refuse an upload that recovery "
            "settled (or a replica paused past its lease can land rows twice)",
        )
    return Line(name, True, probe.detail)


def _ocsf(settings: Settings) -> Iterator[Line]:
    """The OCSF lake, when `[ocsf] enabled`: reachable and writable as the output is."""
    if not settings.ocsf.enabled:
        return
    name = f"ocsf {settings.ocsf.output}"
    try:
        outputs = list(ocsf_outputs(settings.ocsf))
    except Exception as exc:  # noqa: BLE001 - check reports every failure, one per line
        yield Line(name, False, f"{type(exc).__name__}: {exc}")
        return
    for output in outputs:
        try:
            yield Line(name, True, output.sink.check())
        except SinkError as exc:
            yield Line(name, False, str(exc))
        finally:
            output.sink.close()


def _alerts(settings: Settings) -> Line:
    kinds = [str(getattr(d, "type", "?")) for d in settings.alerts.destinations]
    if not kinds:
        return Line("alerts", True, NO_DESTINATION, warn=True)
    return Line("alerts", True, f"{len(kinds)} destination(s): {', '.join(kinds)}")


NO_DESTINATION = (
    "no destination configured: alerts (no events, source failing, watchlist) are only "
    "logged; add an [[alerts.destinations]] table"
)


def _stored_warning(settings: Settings, source_id: str, log_type: str) -> str | None:
    """What the last poll recorded that on-call must act on (`LogType.warning`)."""
    try:
        store = settings.state.open(read_only=True)
    except StateError:
        return None
    try:
        return REGISTRY[log_type]().warning(store.checkpoint(source_id, log_type))
    except StateError:
        return None
    finally:
        store.close()


def _source(settings: Settings, cfg: SourceConfig, budgets: RateBudgets) -> Iterator[Line]:
    http = httpx.Client(
        timeout=httpx.Timeout(cfg.http_timeout_seconds, connect=CONNECT_SECONDS),
        headers={"User-Agent": f"slack-security-connector/{__version__}"},
        follow_redirects=False,
    )
    try:
        tokens = credentials.provider(cfg, settings.state, http)

        def client(team: str | None = None) -> SlackClient:
            once = RetryPolicy(1)
            return slack_client(cfg, tokens, http, budgets, time.sleep, retry=once, team_id=team)

        teams: list[str] | None = None
        for log_type in cfg.log_types:
            if log_type not in cfg.per_workspace:
                yield from _probe(settings, cfg.id, log_type, client())
                continue
            if teams is None:
                listed = _workspaces(cfg, client())
                if isinstance(listed, Line):
                    yield listed
                    return
                teams = listed
            for team in teams:
                yield from _probe(settings, f"{cfg.id}@{team}", log_type, client(team))
    finally:
        http.close()


def _workspaces(cfg: SourceConfig, client: SlackClient) -> list[str] | Line:
    """The workspaces `team_ids` names, or every one admin.teams.list lists."""
    if isinstance(cfg.team_ids, list):
        return cfg.team_ids
    try:
        return sorted(list_teams(client, cfg.id))
    except SlackError as exc:
        return Line(f"source {cfg.id} workspaces", False, f"{type(exc).__name__}: {exc.detail}")


def _probe(settings: Settings, stream: str, log_type: str, client: SlackClient) -> Iterator[Line]:
    """One authenticated call for one stream (a source, or one workspace of it)."""
    name = f"source {stream} {log_type}"
    problem = _stored_warning(settings, stream, log_type)
    if problem:
        yield Line(name, False, problem)
    try:
        yield Line(name, True, REGISTRY[log_type]().probe(client))
    except SlackError as exc:
        yield Line(name, False, f"{type(exc).__name__}: {exc.detail}")
    except Exception as exc:  # noqa: BLE001 - check reports every failure, one per line
        yield Line(name, False, REDACTOR.scrub(str(exc)) or type(exc).__name__)


def command(settings: Settings, args: argparse.Namespace) -> int:
    lines = []
    for line in run(settings):
        lines.append(line)
        mark = "FAIL" if not line.ok else "WARN" if line.warn else "OK  "
        say(f"{mark} {line.name}: {line.detail}")
    for line in lines:
        if line.field and not line.ok:
            say(f"slack-connector: config error: {line.field}: {line.detail}", sys.stderr)
    return exit_code(lines)
