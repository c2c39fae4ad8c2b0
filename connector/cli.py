"""`slack-connector`: parse the command line, call the part that does the work, print, exit.

Exit codes: 0 success, 1 a source, log type or the state store failed, 2 a configuration
or usage error.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import webbrowser
from collections.abc import Callable, Sequence
from types import FrameType

import httpx
import orjson

from connector import backfill, logs, oauth, scheduler
from connector.app import App, tune_interpreter
from connector.config import ConfigError, Settings, load
from connector.logtypes import REGISTRY
from connector.secrets import SecretError
from connector.slack.errors import SlackError
from connector.state import StateError
from connector.tokens import TokenFileError

log = logging.getLogger("connector")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="slack-connector", description=__doc__)
    parser.add_argument("--log-level", default="INFO")
    parser.add_argument("--log-format", choices=("json", "text"), default="json")
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, text: str, config: bool = True) -> argparse.ArgumentParser:
        cmd = sub.add_parser(name, help=text, description=text)
        if config:
            cmd.add_argument("--config", "-c", required=True, help="path to the TOML config")
        return cmd

    command("run", "poll every source on schedule until SIGTERM or SIGINT")
    command("once", "poll every source and log type once; exit 0 only if all succeeded")
    command("check", "validate the config and make one authenticated call per source and log type")
    bf = command("backfill", "pull a historical audit-log window for one source (resumable)")
    bf.add_argument("--source", required=True)
    bf.add_argument("--since", required=True, help="UTC date or time, e.g. 2026-11-01")
    bf.add_argument("--until", help="UTC date or time (default: now)")
    state = command("state", "show or reset the connector's state")
    state.add_argument("action", choices=("show", "reset", "init"))
    state.add_argument("--source")
    state.add_argument("--log-type", choices=sorted(REGISTRY))
    state.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    auth = command("auth", "install the Slack app for a source (OAuth v2) and store its token")
    auth.add_argument("--source", required=True)
    auth.add_argument("--open-browser", action="store_true", help="open the consent page")
    auth.add_argument(
        "--paste", action="store_true", help="paste the redirected URL instead of listening"
    )
    auth.add_argument("--timeout", type=float, default=300.0)
    demo = command("demo", "run against a built-in Slack simulator for a minute", config=False)
    demo.add_argument("--seconds", type=float, default=60.0)
    demo.add_argument("--output", default="./demo-output")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logs.setup(args.log_level, args.log_format)
    if args.command == "demo":
        from connector.demo.command import run_demo

        return int(run_demo(args.seconds, args.output))
    try:
        settings = load(args.config)
    except ConfigError as exc:
        print(f"slack-connector: config error: {exc}", file=sys.stderr)
        return 2
    tune_interpreter()
    try:
        return COMMANDS[args.command](settings, args)
    except StateError as exc:
        print(f"slack-connector: {exc}", file=sys.stderr)
        return 1


def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    app = App(settings)

    def stop(signum: int, frame: FrameType | None) -> None:
        log.info("signal received, stopping", extra={"signal": signal.Signals(signum).name})
        app.stop.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        try:
            app.start_health()
        except OSError as exc:
            m = settings.metrics
            print(
                f"slack-connector: config error: metrics: cannot listen on {m.address}:{m.port} "
                f"({exc.strerror}); change [metrics] port or set enabled = false",
                file=sys.stderr,
            )
            return 2
        scheduler.run_forever(app)
    finally:
        app.close()
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
        print(f"{o.source_id} {o.log_type}: {o.state} {counts}")
    return 0 if all(o.ok for o in outcomes) else 1


def cmd_check(settings: Settings, args: argparse.Namespace) -> int:
    app = App(settings)
    try:
        lines = app.check()
    finally:
        app.close()
    for name, ok, detail in lines:
        print(f"{'OK  ' if ok else 'FAIL'} {name}: {detail}")
    return 0 if all(ok for _, ok, _ in lines) else 1


def cmd_backfill(settings: Settings, args: argparse.Namespace) -> int:
    try:
        since = backfill.parse_date(args.since)
        until = backfill.parse_date(args.until) if args.until else None
    except ValueError as exc:
        print(f"slack-connector: backfill: bad date: {exc}", file=sys.stderr)
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
        signal.signal(signal.SIGINT, lambda *_: app.stop.set())
        signal.signal(signal.SIGTERM, lambda *_: app.stop.set())
        backfill.run(runner, since, until)
        return 0
    except Exception as exc:  # noqa: BLE001 - report, the checkpoint already holds progress
        print(f"\nslack-connector: backfill stopped: {exc}; rerun to resume", file=sys.stderr)
        return 1
    finally:
        app.close()


def cmd_state(settings: Settings, args: argparse.Namespace) -> int:
    if args.action == "init":
        print(settings.state.init())
        return 0
    store = settings.state.open(replica=False)
    try:
        if args.action == "show":
            for row in store.summary():
                if args.source in (None, row["source_id"]):
                    print(orjson.dumps(row, option=orjson.OPT_SORT_KEYS).decode())
            for key, alert in sorted(store.open_alerts().items()):
                print(orjson.dumps({"open_alert": key, **alert}).decode())
            return 0
        if not args.source or not args.log_type:
            print("slack-connector: state reset needs --source and --log-type", file=sys.stderr)
            return 2
        what = f"source {args.source!r} log type {args.log_type!r}"
        if not args.yes and not _confirm(
            f"Reset {what}? Its next poll starts over from first_run_lookback_seconds. [y/N] "
        ):
            print("not reset")
            return 1
        store.reset(args.source, args.log_type)
        print(f"reset {what}")
        return 0
    finally:
        store.close()


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
        print(f"slack-connector: auth: {exc}", file=sys.stderr)
        return 1
    rotation = "rotating, refreshed automatically" if token_set.refresh_token else "long-lived"
    print(f"Stored a {rotation} user token for {source.id} in {path}.")
    print(f"Next: slack-connector check --config {args.config}")
    return 0


COMMANDS: dict[str, Callable[[Settings, argparse.Namespace], int]] = {
    "auth": cmd_auth,
    "run": cmd_run,
    "once": cmd_once,
    "check": cmd_check,
    "backfill": cmd_backfill,
    "state": cmd_state,
}

if __name__ == "__main__":
    sys.exit(main())
