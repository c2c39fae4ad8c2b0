"""Text for Slack's mrkdwn, where `<...>` is a link or a mention: `<!here>` pings a
channel, `<https://phish.example|the runbook>` shows a link under harmless words.
Every value a person or a log supplied goes through `escape` (Slack's own rule: `&`,
`<` and `>` as HTML entities) before it is put into a message; only the connector's own
`<@U...>` mentions stay live.
"""

from __future__ import annotations


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
