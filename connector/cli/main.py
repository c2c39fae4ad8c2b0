"""`slack-connector`: parse the command line, call the part that does the work, print, exit.

Everything printed goes through the log redactor, because exception texts can carry a
secret (a webhook URL, a token echoed by a server). Exit codes: 0 success, 1 a source, log
type or the state store failed, 2 a configuration or usage error.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from connector import logs
from connector.cli.output import say
from connector.cli.parser import build_parser
from connector.config.errors import ConfigError
from connector.config.load import load
from connector.state import StateError

if TYPE_CHECKING:
    from connector.config.settings import Settings

NEEDS_NO_SECRETS = frozenset(
    {"state", "auth", "check", "search", "index", "watchlist", "anomaly-allowlist"}
)
"""Commands that read config without reading every secret at start-up: `state` never calls
Slack, `auth` reads only its own source's, `check` reports each missing one as a line."""


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logs.setup(args.log_level, args.log_format)
    if args.command == "demo":
        from connector.demo.command import run_demo

        return int(run_demo(args.seconds, args.output))
    if args.command == "search" and args.config is None:
        return _search(None, args)  # --path: a local directory, no config
    try:
        settings = load(args.config, secrets=args.command not in NEEDS_NO_SECRETS)
    except ConfigError as exc:
        say(f"slack-connector: config error: {exc}", sys.stderr)
        return 2
    from connector.service.app import tune_interpreter  # the daemon's: not a search's

    tune_interpreter()
    try:
        return COMMANDS[args.command](settings, args)
    except StateError as exc:
        say(f"slack-connector: {exc}", sys.stderr)
        return 1


def _search(settings: Settings | None, args: argparse.Namespace) -> int:
    from connector.cli import search  # imported only when used

    return search.command(settings, args)


def _command(name: str) -> Callable[[Settings, argparse.Namespace], int]:
    """`connector.cli.<name>.command`, its module imported only when it runs: a search
    then starts without the daemon's modules (boto3, httpx, APScheduler: ~0.5 s)."""

    def command(settings: Settings, args: argparse.Namespace) -> int:
        module = importlib.import_module(f"connector.cli.{name}")
        return int(module.command(settings, args))

    return command


COMMANDS: dict[str, Callable[[Settings, argparse.Namespace], int]] = {
    "search": _search,
    **{
        name: _command(name.replace("-", "_"))
        for name in (
            "index",
            "watchlist",
            "auth",
            "run",
            "once",
            "check",
            "backfill",
            "state",
            "anomaly-allowlist",
        )
    },
}

if __name__ == "__main__":
    sys.exit(main())
