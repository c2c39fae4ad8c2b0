"""`slack-connector run|once|check --config FILE`: parse, call, print, exit.

Exit codes: 0 success, 1 a source or log type failed, 2 a configuration error.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Sequence
from types import FrameType

from connector import logs, scheduler
from connector.app import App
from connector.config import ConfigError, Settings, load
from connector.state.sqlite import StateError

log = logging.getLogger("connector")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="slack-connector", description=__doc__)
    parser.add_argument("--log-level", default="INFO")
    parser.add_argument("--log-format", choices=("json", "text"), default="json")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, text in (
        ("run", "poll every source on schedule until SIGTERM or SIGINT"),
        ("once", "poll every source and log type once; exit 0 only if all succeeded"),
        ("check", "validate the config and make one authenticated call per source and log type"),
    ):
        cmd = sub.add_parser(name, help=text)
        cmd.add_argument("--config", "-c", required=True, help="path to the TOML config")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logs.setup(args.log_level, args.log_format)
    try:
        settings = load(args.config)
    except ConfigError as exc:
        print(f"slack-connector: config error: {exc}", file=sys.stderr)
        return 2
    try:
        return COMMANDS[args.command](settings)
    except StateError as exc:
        print(f"slack-connector: {exc}", file=sys.stderr)
        return 1


def cmd_run(settings: Settings) -> int:
    app = App(settings)

    def stop(signum: int, frame: FrameType | None) -> None:
        log.info("signal received, stopping", extra={"signal": signal.Signals(signum).name})
        app.stop.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        app.start_health()
        scheduler.run_forever(app)
    finally:
        app.close()
    return 0


def cmd_once(settings: Settings) -> int:
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


def cmd_check(settings: Settings) -> int:
    app = App(settings)
    try:
        lines = app.check()
    finally:
        app.close()
    for name, ok, detail in lines:
        print(f"{'OK  ' if ok else 'FAIL'} {name}: {detail}")
    return 0 if all(ok for _, ok, _ in lines) else 1


COMMANDS = {"run": cmd_run, "once": cmd_once, "check": cmd_check}

if __name__ == "__main__":
    sys.exit(main())
