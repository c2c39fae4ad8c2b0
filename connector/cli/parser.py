"""`slack-connector`'s command line: every command, option and help text, in one parser."""

from __future__ import annotations

import argparse
from typing import Any

from connector.logtypes import REGISTRY

DESCRIPTION = """\
Pull Slack's security logs (Audit Logs API, team.accessLogs, team.integrationLogs) and
land them as gzip NDJSON in S3, a local directory or stdout, exactly once.

Start with `slack-connector demo` (no Slack needed), then `auth`, `check`, `run`."""
EPILOG = """\
exit codes: 0 success, 1 a source, log type or the state store failed,
2 a configuration or usage error (the message names the field).
`check` and `state show` may run beside a running daemon."""


def _logging_options(parser: argparse.ArgumentParser, default: Any) -> None:
    """Accepted before the verb and after it (`once --log-format text`): the verb's
    parser leaves them unset (`SUPPRESS`) unless given, so one given first still counts."""
    parser.add_argument(
        "--log-level",
        default="INFO" if default is None else default,
        help="DEBUG, INFO, WARNING or ERROR (default INFO)",
    )
    parser.add_argument(
        "--log-format",
        choices=("json", "text"),
        default="json" if default is None else default,
        help="log lines on stderr: JSON (default) or text for humans",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="slack-connector",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _logging_options(parser, default=None)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    config = argparse.ArgumentParser(add_help=False)
    config.add_argument("--config", "-c", required=True, help="path to the TOML config")
    anywhere = argparse.ArgumentParser(add_help=False)
    _logging_options(anywhere, default=argparse.SUPPRESS)

    def command(
        name: str, text: str, *, within: Any = sub, parents: bool = True
    ) -> argparse.ArgumentParser:
        cmd: argparse.ArgumentParser = within.add_parser(
            name,
            help=text,
            description=text,
            parents=[anywhere, config] if parents else [anywhere],
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
    allow = command(
        "anomaly-allowlist",
        "show Slack's trusted networks for anomalies, or sync them from [detections.anomaly]",
        parents=False,
    )
    allow_actions = allow.add_subparsers(dest="action", required=True, metavar="ACTION")
    allow_show = command("show", "print Slack's anomaly allow-list", within=allow_actions)
    allow_sync = command(
        "sync",
        "replace Slack's anomaly allow-list with trusted_cidrs and trusted_asns (prints the "
        "diff and asks first)",
        within=allow_actions,
    )
    for cmd in (allow_show, allow_sync):
        cmd.add_argument("--source", help="the org-installed [[sources]] id (default: first)")
    allow_sync.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    allow_sync.add_argument(
        "--replace", action="store_true", help="also delete entries only Slack's list holds"
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
    search = command(
        "search",
        "find events with an IP, CIDR, email, user or text in the output",
        parents=False,
    )
    where = search.add_mutually_exclusive_group(required=True)
    where.add_argument("--config", "-c", help="path to the TOML config (reads its [output])")
    where.add_argument(
        "--path",
        help="a local output directory to search instead, e.g. the demo's demo-output/output",
    )
    search.add_argument(
        "indicators",
        nargs="+",
        metavar="INDICATOR",
        help="an IP or CIDR range, email, domain, URL (defanged too: hxxp://, [.]), "
        "user id (U..., W...), @username, or text (text:... forces a substring)",
    )
    search.add_argument("--since", help="UTC date or time, or an age: 7d, 12h (default 30d)")
    search.add_argument("--until", help="UTC date or time, or an age (default: now)")
    search.add_argument(
        "--log-type",
        action="append",
        default=[],
        dest="log_types",
        choices=sorted(REGISTRY),
        help="audit, access or integration; repeat for more (default: all)",
    )
    search.add_argument(
        "--format",
        choices=("table", "json"),
        default="table",
        help="a table (default), or the full rows as NDJSON",
    )
    search.add_argument(
        "--limit", type=int, default=100, help="at most this many events (0: all, as --all)"
    )
    search.add_argument(
        "--all",
        action="store_true",
        help="every match, newest first, printed as found at constant memory",
    )
    search.add_argument(
        "--summary",
        action="store_true",
        help="first: when seen, hits per log type and source, top actors, actions, IPs, "
        "and whether each indicator is watched",
    )
    index = command(
        "index",
        "write the search index of objects landed without one (resumable; safe beside a "
        "running daemon)",
    )
    index.add_argument("--since", required=True, help="UTC date or time, or an age: 30d")
    index.add_argument("--until", help="UTC date or time, or an age (default: now)")
    index.add_argument(
        "--log-type", action="append", default=[], dest="log_types", help="repeat for more"
    )
    index.add_argument(
        "--compact",
        action="store_true",
        help="write each closed day's compacted index (one file a day and log type; "
        "resumable, idempotent), then delete the index files no search reads any more",
    )
    index.add_argument(
        "--gc",
        action="store_true",
        help="only delete the index files no search reads: per-object indexes of objects a "
        "day file covers, day files another covers whole (once that file is --grace old)",
    )
    index.add_argument(
        "--keep", action="store_true", help="with --compact: delete nothing (no --gc step)"
    )
    index.add_argument(
        "--grace",
        help="how old the covering day file must be before what it replaces is deleted: "
        "an age such as 1h, 30m, 90s, 0 (default 1h, far longer than any search)",
    )
    watch = command("watchlist", "show the watched indicators", parents=False)
    watch_actions = watch.add_subparsers(dest="action", required=True, metavar="ACTION")
    watch_show = command(
        "show",
        "every watched indicator, where it comes from (config, file, Slack) and, for those "
        "added from Slack, who added it, when, to which list, with which tags and context "
        "(safe beside a running daemon)",
        within=watch_actions,
    )
    watch_show.add_argument("--list", help="only indicators submitted to this named list")
    watch_show.add_argument(
        "--format", choices=("text", "json"), default="text", help="text (default) or JSON lines"
    )
    demo = command("demo", "run against a built-in Slack simulator for a minute", parents=False)
    demo.add_argument("--seconds", type=float, default=60.0, help="how long to run (default 60)")
    demo.add_argument(
        "--output", default="./demo-output", help="where to write (default ./demo-output)"
    )
    return parser
