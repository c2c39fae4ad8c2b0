"""The first half of the install: the authorize URL, and reading Slack's redirect back.

The redirect's `state` is compared in constant time before anything else in it is read,
so a forged redirect cannot even tell us the install was denied.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from urllib.parse import parse_qsl, urlencode, urlsplit

from connector.logtypes import REGISTRY
from connector.oauth.errors import OAuthError
from connector.slack.errors import safe_code

AUTHORIZE_URL = "https://slack.com/oauth/v2/authorize"
CALLBACK_PATH = "/slack/oauth/callback"


def user_scopes(log_types: Iterable[str]) -> list[str]:
    """The user token scopes the given log types need, sorted and unique (each log type
    class declares its own in `LogType.scopes`)."""
    needed: set[str] = set()
    for log_type in log_types:
        if log_type not in REGISTRY:
            raise OAuthError(f"unknown log type {log_type!r}; choose from {sorted(REGISTRY)}")
        needed.update(REGISTRY[log_type].scopes)
    return sorted(needed)


def new_state() -> str:
    """An unguessable `state` value for one install."""
    return secrets.token_urlsafe(32)


def authorize_url(
    client_id: str,
    scopes: Iterable[str],
    redirect_uri: str,
    state: str,
    authorize_base: str = AUTHORIZE_URL,
    *,
    team: str | None = None,
) -> str:
    """Slack's v2 authorize URL asking for *user* scopes (`user_scope=`, comma-separated).

    `team` optionally preselects a workspace or org id on Slack's consent page.
    """
    params: dict[str, str] = {
        "client_id": client_id,
        "user_scope": ",".join(scopes),
        "redirect_uri": redirect_uri,
        "state": state,
    }
    if team:
        params["team"] = team
    sep = "&" if "?" in authorize_base else "?"
    return authorize_base + sep + urlencode(params)


def check_callback(params: Mapping[str, str], expected_state: str) -> str:
    """Validate the redirect's query parameters; return the code or raise OAuthError.

    State is checked first, so a forged redirect cannot even tell us it was denied.
    """
    got_state = params.get("state", "")
    if not got_state or not secrets.compare_digest(
        got_state.encode("utf-8"), expected_state.encode("utf-8")
    ):
        detail = "it had no state" if not got_state else "it carried a different state"
        raise OAuthError(
            f"state mismatch: the redirect did not come from this install ({detail}); "
            "a stale browser tab or a forged request. Run the install again.",
            code="state_mismatch",
        )
    error = params.get("error", "")
    if error:
        if error == "access_denied":
            raise OAuthError(
                "access_denied: the install was cancelled on Slack's consent page (Cancel "
                "was clicked, or the user may not install apps). Run the install again and "
                "click Allow, signed in as an owner.",
                code="access_denied",
            )
        safe = safe_code(error)
        raise OAuthError(f"Slack returned error {safe!r} instead of a code", code=safe)
    code = params.get("code", "")
    if not code:
        raise OAuthError("the redirect carried no code", code="no_code")
    return code


def code_from_redirect(url: str, expected_state: str) -> str:
    """The code from a redirect URL pasted by the operator (or its query string alone).

    Raises OAuthError like the listener does: state mismatch, access_denied, no code.
    """
    url = url.strip()
    query = urlsplit(url).query if ("://" in url or url.startswith("/")) else url.lstrip("?")
    return check_callback(dict(parse_qsl(query, keep_blank_values=True)), expected_state)
