"""The refresh call: trade a single-use Slack refresh token for a new token pair.

Errors reuse the Slack error classes the runner already understands: `TokenRefreshError`
(a `SlackAuthError`) parks the source until a human re-installs; `TokenRefreshTransientError`
(a `SlackTransientError`) fails or retries the cycle.
"""

from __future__ import annotations

from dataclasses import replace

import httpx
from pydantic import SecretStr

from connector.logs import REDACTOR
from connector.slack.errors import (
    TRANSIENT_CODES,
    SlackAuthError,
    SlackTransientError,
    safe_code,
)
from connector.slack.oauth_access import TOKEN_URL, post_token_endpoint
from connector.slack.tokenset import TokenSet
from connector.slack.tokenset import token_set_from_response as _from_response

METHOD = "oauth.v2.access"

# ok:false codes on a refresh that no retry will fix: a human must re-install or fix config.
PERMANENT_REFRESH_CODES = frozenset(
    {
        "invalid_refresh_token",
        "invalid_client_id",
        "bad_client_secret",
        "invalid_grant_type",
        "token_revoked",
        "token_expired",
        "invalid_auth",
        "app_deleted",
        "account_inactive",
    }
)

_HINTS = {
    "invalid_refresh_token": (
        "the refresh token was already used or revoked; run the install again"
    ),
    "invalid_client_id": "check client_id (Settings > Basic Information)",
    "bad_client_secret": "check client_secret (Settings > Basic Information)",
    "token_revoked": "the token was revoked; run the install again",
    "app_deleted": "the Slack app was deleted; create it again and run the install",
}


class TokenRefreshError(SlackAuthError):
    """A refresh that cannot succeed until a human acts (re-install, fix client credentials).
    Parks the source. Never carries a token."""


class TokenRefreshTransientError(SlackTransientError):
    """A refresh that may succeed later: transport error, 5xx, 429, garbled body, or a new
    pair that could not be written yet."""


def refresh(
    http: httpx.Client,
    *,
    client_id: str,
    client_secret: SecretStr,
    refresh_token: SecretStr,
    token_url: str = TOKEN_URL,
    source_id: str = "",
) -> TokenSet:
    """Trade a refresh token for a new pair (POST grant_type=refresh_token).

    Raises TokenRefreshError for codes no retry fixes (invalid_refresh_token,
    invalid_client_id, bad_client_secret, ...) and TokenRefreshTransientError for transport
    errors, HTTP 429/5xx, non-JSON bodies and Slack's transient codes.
    """
    REDACTOR.add(
        client_secret.get_secret_value(),
        refresh_token.get_secret_value(),
        owner=f"oauth-refresh:{source_id or client_id}",
    )
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token.get_secret_value()}
    try:
        status, body, problem = post_token_endpoint(
            http, token_url, client_id=client_id, client_secret=client_secret, form=form
        )
    except httpx.TimeoutException as exc:
        raise TokenRefreshTransientError(
            source_id, METHOD, f"token refresh timed out ({type(exc).__name__})"
        ) from None
    except httpx.TransportError as exc:
        raise TokenRefreshTransientError(
            source_id, METHOD, f"token refresh connection error ({type(exc).__name__})"
        ) from None
    code = safe_code(body.get("error")) if body is not None and body.get("error") else ""
    if status == 429 or status >= 500 or code in TRANSIENT_CODES:
        detail = f"token refresh: HTTP {status}" + (f", error {code!r}" if code else "")
        raise TokenRefreshTransientError(
            source_id, METHOD, detail, code=code or "http_error", status=status
        )
    if body is None:
        raise TokenRefreshTransientError(
            source_id, METHOD, f"token refresh: HTTP {status} with {problem}", status=status
        )
    if status != 200 or body.get("ok") is not True:
        code = code or "unknown_error"
        hint = _HINTS.get(code, "run the install again if this persists")
        raise TokenRefreshError(
            source_id,
            METHOD,
            f"token refresh refused: HTTP {status}, error {code!r}: {hint}",
            code=code,
            status=status,
        )
    try:
        new = _from_response(body, prefer_user=False)
    except ValueError:
        raise TokenRefreshError(
            source_id,
            METHOD,
            "token refresh answered ok but with no access token",
            code="no_token",
            status=status,
        ) from None
    if new.refresh_token is None:
        # Slack always rotates the refresh token; if one is ever missing, keep the old one
        # rather than lose the ability to refresh at all.
        new = replace(new, refresh_token=refresh_token)
    return new


def merge(old: TokenSet, new: TokenSet) -> TokenSet:
    """A refresh answer may omit what the install answer had; keep the install's facts."""
    return replace(
        new,
        scopes=new.scopes or old.scopes,
        team_id=new.team_id or old.team_id,
        enterprise_id=new.enterprise_id or old.enterprise_id,
        is_enterprise_install=new.is_enterprise_install or old.is_enterprise_install,
        user_id=new.user_id or old.user_id,
    )


__all__ = [
    "METHOD",
    "PERMANENT_REFRESH_CODES",
    "TokenRefreshError",
    "TokenRefreshTransientError",
    "merge",
    "refresh",
]
