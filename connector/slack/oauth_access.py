"""The one call to Slack's oauth.v2.access, shared by the install (code exchange) and
token rotation (refresh): client credentials as HTTP Basic auth, the answer as a JSON
object or a description of what came back instead."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
from pydantic import SecretStr

TOKEN_URL = "https://slack.com/api/oauth.v2.access"  # noqa: S105 - a URL


def post_token_endpoint(
    http: httpx.Client,
    token_url: str,
    *,
    client_id: str,
    client_secret: SecretStr,
    form: Mapping[str, str],
) -> tuple[int, Mapping[str, Any] | None, str]:
    """POST to oauth.v2.access with HTTP Basic client auth.

    Returns (status, JSON object or None, problem) and raises httpx.TransportError as is.
    `problem` describes a non-JSON body ("" when the body parsed).
    """
    resp = http.post(
        token_url,
        data=dict(form),
        auth=httpx.BasicAuth(client_id, client_secret.get_secret_value()),
        headers={"Accept": "application/json"},
    )
    try:
        body = resp.json()
    except ValueError:
        kind = resp.headers.get("content-type", "unknown").split(";")[0] or "unknown"
        return resp.status_code, None, f"a non-JSON body ({kind})"
    if not isinstance(body, Mapping):
        return resp.status_code, None, "a JSON body that is not an object"
    return resp.status_code, body, ""
