"""`slack-connector auth`: install the Slack app for a source (OAuth v2) and store its token."""

from __future__ import annotations

import argparse
import sys
import webbrowser

import httpx

from connector import oauth
from connector.cli.output import say
from connector.config.settings import Settings
from connector.oauth.scopes import workspace_scopes
from connector.secrets import SecretError
from connector.slack.errors import SlackError
from connector.state.token_store import TokenFileError


def command(settings: Settings, args: argparse.Namespace) -> int:
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
                extra_scopes=workspace_scopes(source.team_ids),
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
