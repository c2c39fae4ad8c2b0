"""The second half of the install: swap the authorization code for a token."""

from __future__ import annotations

import httpx
from pydantic import SecretStr

from connector.logs import REDACTOR
from connector.oauth.errors import OAuthError
from connector.slack.errors import safe_code
from connector.slack.oauth_access import TOKEN_URL, post_token_endpoint
from connector.slack.tokenset import TokenSet, token_set_from_response

# Hints for oauth.v2.access error codes an operator can act on.
_EXCHANGE_HINTS = {
    "invalid_code": "the code expired or was already used; run the install again",
    "code_already_used": "the code was already used; run the install again",
    "bad_redirect_uri": (
        "redirect_uri must match a Redirect URL in the app's OAuth & Permissions settings exactly"
    ),
    "invalid_client_id": "check the Client ID (Settings > Basic Information)",
    "bad_client_secret": "check the Client Secret (Settings > Basic Information)",
    "oauth_authorization_url_mismatch": "the authorize URL and oauth.v2.access disagree",
}


def exchange_code(
    http: httpx.Client,
    *,
    client_id: str,
    client_secret: SecretStr,
    code: str,
    redirect_uri: str,
    token_url: str = TOKEN_URL,
) -> TokenSet:
    """Swap an authorization code for a TokenSet (user token from `authed_user`)."""
    REDACTOR.add(client_secret.get_secret_value())
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
    }
    try:
        status, body, problem = post_token_endpoint(
            http, token_url, client_id=client_id, client_secret=client_secret, form=form
        )
    except httpx.TransportError as exc:
        raise OAuthError(
            f"cannot reach Slack's oauth.v2.access ({type(exc).__name__}); check the network "
            "and run the install again",
            code="transport",
        ) from None
    if body is None:
        raise OAuthError(
            f"oauth.v2.access answered HTTP {status} with {problem}; run the install again",
            code="bad_response",
        )
    if status != 200 or body.get("ok") is not True:
        error = safe_code(body.get("error"))
        hint = _EXCHANGE_HINTS.get(error, "see Slack's oauth.v2.access documentation")
        raise OAuthError(
            f"oauth.v2.access refused the code: HTTP {status}, error {error!r}: {hint}",
            code=error,
        )
    try:
        return token_set_from_response(body, prefer_user=True)
    except ValueError as exc:
        raise OAuthError(str(exc), code="no_token") from None
