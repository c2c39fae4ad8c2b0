"""`slack-connector anomaly-allowlist show|sync`: Slack's trusted networks for anomalies.

`show` prints what Slack holds; `sync` makes it what `[detections.anomaly] trusted_cidrs`
and `trusted_asns` say (IPv4 networks: Slack holds no others). Slack's `updateItem`
replaces the whole list, so `sync` prints the diff and asks (or `--yes`), and refuses when
Slack holds entries the config lacks, which someone added in Slack and a sync would
silently delete, unless `--replace`.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import TextIO

import httpx

from connector import __version__
from connector.cli.output import say
from connector.cli.state import confirm
from connector.config.settings import Settings, SourceConfig
from connector.credentials import provider as credentials
from connector.detections import allowlist
from connector.service.runner import slack_client
from connector.slack.client import RetryPolicy
from connector.slack.errors import SlackError
from connector.slack.ratelimit import RateBudgets

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def run(settings: Settings, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    cfg = _source(settings, args.source)
    if cfg is None:
        say(f"slack-connector: --source: no source {args.source!r} in {args.config}", err)
        return EXIT_USAGE
    anomaly = settings.detections.anomaly
    wanted = allowlist.AllowList.of(anomaly.trusted_cidrs, anomaly.trusted_asns)
    http = httpx.Client(
        timeout=cfg.http_timeout_seconds,
        headers={"User-Agent": f"slack-security-connector/{__version__}"},
        follow_redirects=False,
    )
    try:
        tokens = credentials.provider(cfg, settings.state, http)
        client = slack_client(cfg, tokens, http, RateBudgets(), time.sleep, retry=RetryPolicy(3))
        current = allowlist.read(client)
        if args.action == "show":
            _print(current, out)
            return EXIT_OK
        return _sync(client, current, wanted, args, out, err)
    except (SlackError, allowlist.AllowListError) as exc:
        say(f"slack-connector: anomaly-allowlist: {exc}", err)
        return EXIT_FAILED
    finally:
        http.close()


def _sync(
    client: allowlist.WebClient,
    current: allowlist.AllowList,
    wanted: allowlist.AllowList,
    args: argparse.Namespace,
    out: TextIO,
    err: TextIO,
) -> int:
    change = allowlist.diff(current, wanted)
    if change.empty:
        say("Slack's anomaly allow-list already matches the config; nothing to do", out)
        return EXIT_OK
    for line in change.lines():
        say(line, out)
    if change.remove and not args.replace:
        say(
            f"refused: Slack's allow-list holds {len(change.remove)} entr"
            f"{'y' if len(change.remove) == 1 else 'ies'} the config lacks (- above); "
            "add them to [detections.anomaly] or pass --replace to delete them in Slack",
            err,
        )
        return EXIT_FAILED
    if not args.yes and not confirm("Replace Slack's anomaly allow-list with the config's? [y/N] "):
        say("not changed", out)
        return EXIT_FAILED
    allowlist.write(client, wanted)
    say(
        f"updated Slack's anomaly allow-list: {len(change.add)} added, "
        f"{len(change.remove)} removed",
        out,
    )
    return EXIT_OK


def _print(current: allowlist.AllowList, out: TextIO) -> None:
    say(f"trusted_cidrs: {', '.join(sorted(current.cidrs)) or '(none)'}", out)
    say(f"trusted_asns: {', '.join(f'AS{n}' for n in sorted(current.asns)) or '(none)'}", out)


def _source(settings: Settings, wanted: str | None) -> SourceConfig | None:
    """The named source, else the first that reads audit logs (an org install), else the first."""
    if wanted:
        return next((s for s in settings.sources if s.id == wanted), None)
    return next((s for s in settings.sources if "audit" in s.log_types), settings.sources[0])


def command(settings: Settings, args: argparse.Namespace) -> int:
    return run(settings, args, sys.stdout, sys.stderr)
