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
from typing import Any, TextIO

import httpx
import orjson

from connector import backfill, check, clock, logs, oauth, scheduler
from connector.app import App, tune_interpreter
from connector.config import ConfigError, Settings, load
from connector.logtypes import REGISTRY
from connector.secrets import SecretError
from connector.slack.errors import SlackError
from connector.state import StateError
from connector.tokens import TokenFileError

log = logging.getLogger("connector")

DESCRIPTION = """\
Pull Slack's security logs (Audit Logs API, team.accessLogs, team.integrationLogs) and
land them as gzip NDJSON in S3, a local directory or stdout, exactly once.

Start with `slack-connector demo` (no Slack needed), then `auth`, `check`, `run`."""
EPILOG = """\
exit codes: 0 success, 1 a source, log type or the state store failed,
2 a configuration or usage error (the message names the field).
`check` and `state show` may run beside a running daemon."""

NEEDS_NO_SECRETS = frozenset({"state", "auth", "check", "search"})
"""Commands that read config without reading every secret at start-up: `state` never calls
Slack, `auth` reads only its own source's, `check` reports each missing one as a line."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="slack-connector",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--log-level", default="INFO", help="DEBUG, INFO, WARNING or ERROR (default INFO)"
    )
    parser.add_argument(
        "--log-format",
        choices=("json", "text"),
        default="json",
        help="log lines on stderr: JSON (default) or text for humans",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    config = argparse.ArgumentParser(add_help=False)
    config.add_argument("--config", "-c", required=True, help="path to the TOML config")

    def command(
        name: str, text: str, *, within: Any = sub, parents: bool = True
    ) -> argparse.ArgumentParser:
        cmd: argparse.ArgumentParser = within.add_parser(
            name, help=text, description=text, parents=[config] if parents else []
        )
        return cmd

    command("run", "poll every source on schedule until SIGTERM or SIGINT")
    command("once", "poll every source and log type once; exit 0 only if all succeeded")
    command(
        "check",
        "read every secret, then make one authenticated call per source and log type "
        "(safe beside a running daemon; creates nothing)",
    )
    bf = command("backfill", "pull a historical audit-log window for one source (resumable)")
    bf.add_argument("--source", required=True, help="the [[sources]] id to backfill")
    bf.add_argument("--since", required=True, help="UTC date or time, e.g. 2026-11-01")
    bf.add_argument("--until", help="UTC date or time (default: now)")
    state = command("state", "show or reset the connector's state", parents=False)
    actions = state.add_subparsers(dest="action", required=True, metavar="ACTION")
    show = command(
        "show",
        "print checkpoints, seen-set sizes, source status and open alerts as JSON lines "
        "(times in RFC 3339; safe beside a running daemon)",
        within=actions,
    )
    show.add_argument("--source", help="only this source id")
    reset = command(
        "reset",
        "forget one log type's checkpoint, seen set, status and alerts, so its next poll "
        "starts over from first_run_lookback_seconds (stop the daemon first)",
        within=actions,
    )
    reset.add_argument("--source", required=True, help="the source id")
    reset.add_argument(
        "--log-type", required=True, choices=sorted(REGISTRY), help="the log type to reset"
    )
    reset.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    command(
        "init",
        "create what the state store needs before the first run: the DynamoDB table with "
        "its keys and TTL for several replicas (nothing for SQLite)",
        within=actions,
    )
    auth = command("auth", "install the Slack app for a source (OAuth v2) and store its token")
    auth.add_argument("--source", required=True, help="the [[sources]] id with an oauth table")
    auth.add_argument("--open-browser", action="store_true", help="open the consent page")
    auth.add_argument(
        "--paste", action="store_true", help="paste the redirected URL instead of listening"
    )
    auth.add_argument(
        "--timeout",
        type=float,
        default=300.0,
        help="seconds to wait for Slack's redirect (default 300)",
    )
    search = command("search", "find events with an IP, CIDR, email, user or text in the output")
    search.add_argument(
        "indicators",
        nargs="+",
        metavar="INDICATOR",
        help="an IP or CIDR range, email, user id (U..., W...), @username, or text",
    )
    search.add_argument("--since", help="UTC date or time, or an age: 7d, 12h (default 30d)")
    search.add_argument("--until", help="UTC date or time, or an age (default: now)")
    search.add_argument(
        "--log-type",
        action="append",
        default=[],
        dest="log_types",
        help="audit, access or integration; repeat for more (default: all)",
    )
    search.add_argument(
        "--format",
        choices=("table", "json"),
        default="table",
        help="a table (default), or the full rows as NDJSON",
    )
    search.add_argument("--limit", type=int, default=100, help="at most this many events")
    demo = command("demo", "run against a built-in Slack simulator for a minute", parents=False)
    demo.add_argument("--seconds", type=float, default=60.0, help="how long to run (default 60)")
    demo.add_argument(
        "--output", default="./demo-output", help="where to write (default ./demo-output)"
    )
    return parser


def say(text: str, file: TextIO | None = None) -> None:
    """Print one line at once, scrubbed of every known secret."""
    print(logs.REDACTOR.scrub(text), file=file or sys.stdout, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
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
    ok = True
    for line in check.run(settings):
        ok = ok and line.ok
        say(f"{'OK  ' if line.ok else 'FAIL'} {line.name}: {line.detail}")
    return 0 if ok else 1


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
            print(
                f"slack-connector: backfill: no source {args.source!r} with audit logs",
                file=sys.stderr,
            )
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
    if args.action == "init":
        say(settings.state.init())
        return 0
    return state_show(settings, args) if args.action == "show" else state_reset(settings, args)


def state_show(settings: Settings, args: argparse.Namespace) -> int:
    """Read-only, without the lock: on-call runs it beside the daemon."""
    path = settings.state.location
    try:
        store = settings.state.open(read_only=True)
    except StateError as exc:
        if "no state file yet" not in str(exc):
            raise
        say(f"no state yet: {path} does not exist (nothing has been polled)")
        return 0
    try:
        rows = [r for r in store.summary() if args.source in (None, r["source_id"])]
        alerts = sorted(store.open_alerts().items())
    finally:
        store.close()
    if not rows and not alerts:
        which = f" for source {args.source!r}" if args.source else ""
        say(f"no state recorded yet{which} in {path}")
    for row in rows:
        say(orjson.dumps(readable_times(row), option=orjson.OPT_SORT_KEYS).decode())
    for key, alert in alerts:
        say(orjson.dumps(readable_times({"open_alert": key, **alert})).decode())
    return 0


TIME_FIELDS = frozenset(
    {
        "since",
        "last_success",
        "last_event",
        "first_poll",
        "last_sent",
        "horizon",
        "next_oldest",
        "watermark",
        "oldest",
        "latest",
        "covered_from",
    }
)


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


def state_reset(settings: Settings, args: argparse.Namespace) -> int:
    what = f"source {args.source!r} log type {args.log_type!r}"
    if not any(s.id == args.source for s in settings.sources):
        say(f"note: source {args.source!r} is not in {args.config}", sys.stderr)
    if not args.yes and not _confirm(
        f"Reset {what}? Its next poll starts over from first_run_lookback_seconds. [y/N] "
    ):
        say("not reset")
        return 1
    store = settings.state.open(replica=False)
    try:
        found = store.reset(args.source, args.log_type)
    finally:
        store.close()
    if not found:
        say(f"nothing to reset: no state for {what}", sys.stderr)
        return 1
    say(f"reset {what}")
    return 0


def _confirm(prompt: str) -> bool:
    try:
        return input(prompt).strip().lower() in ("y", "yes")
    except EOFError:
        return False


def cmd_auth(settings: Settings, args: argparse.Namespace) -> int:
    source = next((s for s in settings.sources if s.id == args.source), None)
    if source is None or source.oauth is None:
        print(
            f"slack-connector: auth: source {args.source!r} has no [sources.oauth] table",
            file=sys.stderr,
        )
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


COMMANDS: dict[str, Callable[[Settings, argparse.Namespace], int]] = {
    "search": cmd_search,
    "auth": cmd_auth,
    "run": cmd_run,
    "once": cmd_once,
    "check": cmd_check,
    "backfill": cmd_backfill,
    "state": cmd_state,
}

if __name__ == "__main__":
    sys.exit(main())
