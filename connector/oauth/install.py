"""The whole install as `slack-connector auth` runs it: URL, consent, redirect, code,
token, checked against the log types it is for."""

from __future__ import annotations

import ssl
import sys
import webbrowser
from collections.abc import Callable, Iterable
from typing import IO

import httpx
from pydantic import SecretStr

from connector.logs import REDACTOR
from connector.oauth.authorize import (
    AUTHORIZE_URL,
    authorize_url,
    code_from_redirect,
    new_state,
    user_scopes,
)
from connector.oauth.errors import OAuthError
from connector.oauth.exchange import exchange_code
from connector.oauth.listener import DEFAULT_TIMEOUT, RedirectListener
from connector.oauth.scopes import check_token, enterprise_only
from connector.slack.oauth_access import TOKEN_URL
from connector.slack.tokenset import TokenSet


def run_install(
    http: httpx.Client,
    *,
    client_id: str,
    client_secret: SecretStr,
    log_types: Iterable[str],
    redirect_uri: str,
    extra_scopes: Iterable[str] = (),
    out: IO[str] | None = None,
    open_browser: bool = False,
    paste: bool = False,
    stdin: IO[str] | None = None,
    listener: RedirectListener | None = None,
    ssl_context: ssl.SSLContext | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    team: str | None = None,
    authorize_base: str = AUTHORIZE_URL,
    token_url: str = TOKEN_URL,
    opener: Callable[[str], object] = webbrowser.open,
) -> TokenSet:
    """The whole install: URL → consent → redirect → code → TokenSet, checked for log_types
    (and `extra_scopes`, e.g. `scopes.workspace_scopes` of an Enterprise Grid source).

    `redirect_uri` must equal a Redirect URL configured in the Slack app. The code arrives
    through a local `RedirectListener` built from `redirect_uri` (or the one passed, whose
    `state` is then used), or, with `paste=True`, from a line read from `stdin` holding the
    URL the browser was redirected to. The caller persists the result (e.g.
    `connector.state.token_store.TokenFile.save`).
    """
    out = out or sys.stderr
    log_types, extra_scopes = list(log_types), list(extra_scopes)
    scopes = sorted({*user_scopes(log_types), *extra_scopes})
    REDACTOR.add(client_secret.get_secret_value())

    own_listener = False
    if paste:
        state = new_state()
    else:
        if listener is None:
            listener = RedirectListener.for_redirect_uri(redirect_uri, ssl_context=ssl_context)
            own_listener = True
        listener.start()
        state = listener.state
    try:
        url = authorize_url(client_id, scopes, redirect_uri, state, authorize_base, team=team)
        where = (
            "on the organization (Enterprise Grid), signed in as the org owner"
            if enterprise_only(log_types) or extra_scopes
            else "on the workspace, signed in as an owner"
        )
        print(
            f"Open this URL in a browser, install the app {where}, and click Allow:\n\n  {url}\n",
            file=out,
            flush=True,
        )
        if open_browser:
            try:
                opener(url)
            except Exception:  # noqa: BLE001 - a missing browser is not fatal; URL is printed
                print("(could not open a browser; open the URL yourself)", file=out, flush=True)
        if paste:
            print(
                "After clicking Allow, paste the full URL your browser was sent to, then "
                "press Enter:",
                file=out,
                flush=True,
            )
            line = (stdin or sys.stdin).readline()
            if not line.strip():
                raise OAuthError("no redirect URL was pasted", code="no_code")
            code = code_from_redirect(line, state)
        else:
            assert listener is not None
            print(f"Waiting up to {timeout:g}s for Slack's redirect...", file=out, flush=True)
            code = listener.wait_for_code(timeout)
    finally:
        if own_listener and listener is not None:
            listener.close()

    token_set = exchange_code(
        http,
        client_id=client_id,
        client_secret=client_secret,
        code=code,
        redirect_uri=redirect_uri,
        token_url=token_url,
    )
    check_token(token_set, log_types, extra_scopes)
    rotating = (
        f"rotating, expires in {token_set.seconds_left()}s"
        if token_set.expires_at is not None
        else "not rotating"
    )
    print(
        f"Installed: user token with scopes {', '.join(token_set.scopes)} ({rotating}).",
        file=out,
        flush=True,
    )
    return token_set
