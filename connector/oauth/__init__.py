"""Slack OAuth v2 install flow for the CLI: get a *user* token with the scopes the log types need.

The flow, as `run_install` runs it:

1. Build the authorize URL (`user_scope=`: the Audit Logs API and team.* logs need user
   tokens) with a random `state`, print it, optionally open a browser.
2. Get the redirect back: either a one-shot `RedirectListener` on 127.0.0.1 receives it, or
   (for a headless host, or when Slack refuses the loopback URL) the operator pastes the
   URL the browser landed on and `code_from_redirect` reads it. Either way `state` is
   compared in constant time. A pasted URL with the wrong state ends the install; a request
   to the listener with the wrong state gets 400 and the listener keeps waiting.
3. `exchange_code` swaps the code for a `TokenSet` at oauth.v2.access (client credentials as
   HTTP Basic auth), and `check_token` refuses bot tokens and missing scopes, saying what to
   do about it.

Modules: `authorize` (URL, redirect parsing), `listener`, `exchange` (code for token),
`scopes` (is the token fit for its log types), `install` (the whole flow). The token model
(`connector.slack.tokenset`) and the oauth.v2.access call (`connector.slack.oauth_access`) live
outside, because the daemon needs them for rotation and must not import the install.

Nothing here logs or raises with a token, a code, a state or the client secret in it; every
token is registered with the log redactor the moment a `TokenSet` holds it.

May import: `logtypes`, `slack`, foundations.
"""

from __future__ import annotations

from connector.logtypes import REGISTRY
from connector.oauth.authorize import (
    AUTHORIZE_URL,
    CALLBACK_PATH,
    authorize_url,
    code_from_redirect,
    new_state,
    user_scopes,
)
from connector.oauth.errors import OAuthError
from connector.oauth.exchange import exchange_code
from connector.oauth.install import run_install
from connector.oauth.listener import RedirectListener
from connector.oauth.scopes import check_token
from connector.slack.oauth_access import TOKEN_URL, post_token_endpoint
from connector.slack.tokenset import TokenSet, token_set_from_response

SCOPES: dict[str, list[str]] = {name: list(cls.scopes) for name, cls in REGISTRY.items()}
"""The user token scopes per log type, as the log type classes declare them."""

__all__ = [
    "AUTHORIZE_URL",
    "CALLBACK_PATH",
    "SCOPES",
    "TOKEN_URL",
    "OAuthError",
    "RedirectListener",
    "TokenSet",
    "authorize_url",
    "check_token",
    "code_from_redirect",
    "exchange_code",
    "new_state",
    "post_token_endpoint",
    "run_install",
    "token_set_from_response",
    "user_scopes",
]
