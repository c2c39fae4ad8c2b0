"""A Slack incoming webhook, with a Block Kit message an on-call person can act on.

The webhook URL is itself the credential, so it is a `SecretRef` read at send time and it
never appears in errors, logs or `repr`.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel

from connector import clock
from connector.alerts.base import Alert, Destination, DestinationOptions, Status, register
from connector.alerts.destinations.webhook import new_client, post_json, resolve
from connector.alerts.severity import COLOUR, RESOLVED_COLOUR
from connector.secrets import SecretRef
from connector.slack.mrkdwn import escape

HEADLINE: dict[Status, str] = {
    "trigger": ":rotating_light: Triggered",
    "renotify": ":repeat: Still firing",
    "resolve": ":white_check_mark: Resolved",
}
_HEADER_MAX = 150  # Block Kit limit for a header's plain_text
_TEXT_MAX = 3000  # ... and for section / context text


class SlackWebhookOptions(DestinationOptions):
    type: Literal["slack_webhook"]
    url: SecretRef


@register
class SlackWebhook(Destination):
    kind = "slack_webhook"
    options_model: ClassVar[type[BaseModel]] = SlackWebhookOptions

    def __init__(self, url: SecretRef, timeout: float = 10.0) -> None:
        self._url = url
        self._http = new_client(timeout)

    @classmethod
    def from_options(cls, options: BaseModel) -> Destination:
        opts = SlackWebhookOptions.model_validate(options, from_attributes=True)
        return cls(opts.url, opts.timeout_seconds)

    def send(self, alert: Alert) -> None:
        url = resolve(self.kind, self._url)
        post_json(self._http, self.kind, url, message(alert))

    def close(self) -> None:
        self._http.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(kind={self.kind!r})"


def message(alert: Alert) -> dict[str, Any]:
    """The webhook body: Block Kit blocks in an attachment, whose colour bar is the alert's
    severity (green once resolved), plus a plain `text` fallback for notifications."""
    headline = HEADLINE[alert.status]
    since = clock.rfc3339(alert.since)
    fields = [
        ("Source", f"{escape(alert.source_label)} (`{escape(alert.source_id)}`)"),
        ("Log type", escape(alert.log_type)),
        ("Rule", escape(alert.rule)),
        ("Severity", alert.severity),
        ("Since", since),
    ]
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {
                "type": "plain_text",
                "text": _cut(f"{headline}: {alert.summary}", _HEADER_MAX),
                "emoji": True,
            },
        },
        {
            "type": "section",
            "fields": [{"type": "mrkdwn", "text": f"*{name}*\n{value}"} for name, value in fields],
        },
    ]
    if alert.detail.strip():
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": _cut(escape(alert.detail))}}
        )
    if alert.hint.strip():
        blocks.append(
            {
                "type": "context",
                "elements": [
                    {"type": "mrkdwn", "text": _cut(f"*What to check:* {escape(alert.hint)}")}
                ],
            }
        )
    text = (
        f"{headline}: {alert.summary} "
        f"({alert.source_label} / {alert.log_type}, rule {alert.rule}, since {since})"
    )
    colour = RESOLVED_COLOUR if alert.status == "resolve" else COLOUR[alert.severity]
    return {"text": _cut(text), "attachments": [{"color": colour, "blocks": blocks}]}


def _cut(text: str, limit: int = _TEXT_MAX) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
