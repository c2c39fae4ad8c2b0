"""`slack-connector`: parse the command line, call the part that does the work, print, exit.

Everything printed goes through the log redactor, because exception texts can carry a
secret (a webhook URL, a token echoed by a server). Exit codes: 0 success, 1 a source, log
type or the state store failed, 2 a configuration or usage error.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import webbrowser
from collections.abc import Callable, Sequence
from types import FrameType
from typing import TextIO

import httpx

from connector import backfill, check, logs, oauth, scheduler, state_cli
from connector.app import App, tune_interpreter
from connector.cli_parser import build_parser
from connector.config import Settings
from connector.config_errors import ConfigError
from connector.config_load import load
from connector.secrets import SecretError
from connector.slack.errors import SlackError
from connector.state import StateError
from connector.token_store import TokenFileError

log = logging.getLogger("connector")

NEEDS_NO_SECRETS = frozenset({"state", "auth", "check", "search", "watchlist"})
"""Commands that read config without reading every secret at start-up: `state` never calls
Slack, `auth` reads only its own source's, `check` reports each missing one as a line."""


def say(text: str, file: TextIO | None = None) -> None:
    """Print one line at once, scrubbed of every known secret."""
    print(logs.REDACTOR.scrub(text), file=file or sys.stdout, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logs.setup(args.log_level, args.log_format)
    if args.command == "demo":
        from connector.demo.command import run_demo

        return int(run_demo(args.seconds, args.output))
    try:
        settings = load(args.config, secrets=args.command not in NEEDS_NO_SECRETS)
    except ConfigError as exc:
        say(f"slack-connector: config error: {exc}", sys.stderr)
        return 2
    tune_interpreter()
    try:
        return COMMANDS[args.command](settings, args)
    except StateError as exc:
        say(f"slack-connector: {exc}", sys.stderr)
        return 1


def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    app = App(settings)

    def stop(signum: int, frame: FrameType | None) -> None:
        log.info("signal received, stopping", extra={"signal": signal.Signals(signum).name})
        app.stop.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    clean = True
    try:
        try:
            app.start_health()
        except OSError as exc:
            m = settings.metrics
            say(
                f"slack-connector: config error: metrics: cannot listen on {m.address}:{m.port} "
                f"({exc.strerror}); change [metrics] port or set enabled = false",
                sys.stderr,
            )
            return 2
        try:
            app.start_slash()
        except OSError as exc:
            c = settings.slash_command
            say(
                f"slack-connector: config error: slash_command: cannot listen on "
                f"{c.address}:{c.port} ({exc.strerror}); change [slash_command] port",
                sys.stderr,
            )
            return 2
        clean = scheduler.run_forever(app)
    finally:
        if clean:
            app.close(scheduler.CLOSE_MARGIN_SECONDS)
        else:
            app.abandon(scheduler.CLOSE_MARGIN_SECONDS)
    if not clean:
        logging.shutdown()
        os._exit(1)  # a poll thread stuck on the sink would block the interpreter's exit
    return 0


def cmd_once(settings: Settings, args: argparse.Namespace) -> int:
    app = App(settings)
    try:
        outcomes = app.once()
    finally:
        app.close()
    for o in outcomes:
        r = o.result
        counts = (
            f"written={r.written} quarantined={r.quarantined} duplicates={r.duplicates} "
            f"objects={r.objects}"
            if r
            else o.detail
        )
        say(f"{o.source_id} {o.log_type}: {o.state} {counts}")
    return 0 if all(o.ok for o in outcomes) else 1


def cmd_check(settings: Settings, args: argparse.Namespace) -> int:
    lines = []
    for line in check.run(settings):
        lines.append(line)
        mark = "FAIL" if not line.ok else "WARN" if line.warn else "OK  "
        say(f"{mark} {line.name}: {line.detail}")
    for line in lines:
        if line.field and not line.ok:
            say(f"slack-connector: config error: {line.field}: {line.detail}", sys.stderr)
    return check.exit_code(lines)


def cmd_backfill(settings: Settings, args: argparse.Namespace) -> int:
    try:
        since = backfill.parse_date(args.since)
        until = backfill.parse_date(args.until) if args.until else None
    except ValueError as exc:
        say(f"slack-connector: backfill: bad date: {exc}", sys.stderr)
        return 2
    app = App(settings)
    try:
        runner = app.runners.get(args.source)
        if runner is None or "audit" not in runner.cfg.log_types:
            say(f"slack-connector: backfill: no source {args.source!r} with audit logs", sys.stderr)
            return 2
        app.store.claim([(args.source, "audit")], everything=True)
        if not app.store.owns(args.source, "audit"):
            say(
                f"slack-connector: backfill: a running replica holds the audit lease of "
                f"{args.source!r}; stop the replicas and rerun",
                sys.stderr,
            )
            return 1
        signal.signal(signal.SIGINT, lambda *_: app.stop.set())
        signal.signal(signal.SIGTERM, lambda *_: app.stop.set())
        backfill.run(runner, since, until)
        return 0
    except Exception as exc:  # noqa: BLE001 - report, the checkpoint already holds progress
        say(f"\nslack-connector: backfill stopped: {exc}; rerun to resume", sys.stderr)
        return 1
    finally:
        app.close()


def cmd_state(settings: Settings, args: argparse.Namespace) -> int:
    return state_cli.run(settings, args, say, sys.stdout, sys.stderr)


def cmd_auth(settings: Settings, args: argparse.Namespace) -> int:
    source = next((s for s in settings.sources if s.id == args.source), None)
    if source is None or source.oauth is None:
        problem = f"source {args.source!r} has no [sources.oauth] table"
        say(f"slack-connector: auth: {problem}", sys.stderr)
        return 2
    cfg = source.oauth
    try:
        with httpx.Client(timeout=30.0) as http:
            token_set = oauth.run_install(
                http,
                client_id=cfg.client_id,
                client_secret=cfg.client_secret.resolve(),
                log_types=source.log_types,
                redirect_uri=cfg.redirect_uri,
                out=sys.stdout,
                open_browser=args.open_browser,
                paste=args.paste,
                timeout=args.timeout,
                authorize_base=cfg.authorize_url,
                token_url=cfg.token_url,
                opener=lambda url: webbrowser.open(url),
            )
        storage = settings.state.token_storage(source.id, cfg.token_store)
        storage.save(token_set)
        path = storage.path
    except (oauth.OAuthError, SecretError, TokenFileError, SlackError) as exc:
        say(f"slack-connector: auth: {exc}", sys.stderr)
        return 1
    rotation = "rotating, refreshed automatically" if token_set.refresh_token else "long-lived"
    say(f"Stored a {rotation} user token for {source.id} in {path}.")
    say(f"Next: slack-connector check --config {args.config}")
    return 0


def cmd_search(settings: Settings, args: argparse.Namespace) -> int:
    from connector.search import cli as search_cli

    return search_cli.run(settings, args, say, sys.stdout, sys.stderr)


def cmd_watchlist(settings: Settings, args: argparse.Namespace) -> int:
    from connector.search import watchlist_cli

    return watchlist_cli.run(settings, args, say, sys.stdout, sys.stderr)


COMMANDS: dict[str, Callable[[Settings, argparse.Namespace], int]] = {
    "search": cmd_search,
    "watchlist": cmd_watchlist,
    "auth": cmd_auth,
    "run": cmd_run,
    "once": cmd_once,
    "check": cmd_check,
    "backfill": cmd_backfill,
    "state": cmd_state,
}

if __name__ == "__main__":
    sys.exit(main())
