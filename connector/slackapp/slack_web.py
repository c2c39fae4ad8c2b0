"""The one Slack Web API method the slash command needs: `views.open`, to show a modal.

A `trigger_id` is good for 3 seconds and once, so the call is made at once, while the
slash command's request is still open, with a short timeout and no retry: a retry would
come too late to open anything. The bot token is read through its secret reference at
each call (a rotated token needs no restart) and goes only into the Authorization
header; an error names Slack's `error` code, never the token.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx

from connector.secrets import SecretError, SecretRef

log = logging.getLogger(__name__)
TIMEOUT_SECONDS = 2.0


class SlackWebError(Exception):
    """Slack refused or could not be reached; the message is safe to show the analyst."""


class SlackWeb:
    def __init__(self, base_url: str, token: SecretRef | None) -> None:
        self._base_url = base_url
        self._token = token

    def __repr__(self) -> str:
        return f"SlackWeb({self._base_url!r})"

    def open_view(self, trigger_id: str, view: dict[str, Any]) -> None:
        self.call("views.open", {"trigger_id": trigger_id, "view": view})

    def call(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        if self._token is None:
            raise SlackWebError("modals need [slash_command] bot_token (a bot token)")
        try:
            token = self._token.resolve().get_secret_value()
        except SecretError as exc:
            raise SlackWebError(f"the bot token cannot be read ({exc})") from None
        try:
            response = httpx.post(
                self._base_url + method,
                json=body,
                headers={"Authorization": f"Bearer {token}"},
                timeout=TIMEOUT_SECONDS,
            )
            answer = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            log.error("slack web api: %s failed: %s", method, type(exc).__name__)
            raise SlackWebError(f"Slack did not answer {method}") from None
        if not isinstance(answer, dict) or not answer.get("ok"):
            error = str(answer.get("error", "")) if isinstance(answer, dict) else ""
            log.error("slack web api: %s refused: %s", method, error or response.status_code)
            raise SlackWebError(f"Slack refused {method}: {error or response.status_code}")
        return answer
