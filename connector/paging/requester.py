"""How one page is asked for: which Slack call, which parameters, where the records are."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from connector.slack.client import SlackClient
from connector.slack.errors import SlackTransientError
from connector.stream.contract import PollContext, PollStopped, Raw

Body = dict[str, Any]


@dataclass(frozen=True)
class Requester:
    """One Slack method: `api` is "audit" (the Audit Logs API) or "web" (a Web API method)."""

    method: str
    records: str
    api: str = "web"
    fixed: dict[str, Any] = field(default_factory=dict)

    def fetch(self, ctx: PollContext, params: dict[str, Any]) -> tuple[list[Raw], Body]:
        """The page's records and the whole body; a 200 without the list is a broken answer."""
        if ctx.stop.is_set():
            raise PollStopped(ctx.source_id)
        body = self.call(ctx.client, {**self.fixed, **params})
        value = body.get(self.records)
        if not isinstance(value, list):
            raise SlackTransientError(
                ctx.source_id, self.method, f"response has no {self.records!r} list"
            )
        return value, body

    def call(self, client: SlackClient, params: dict[str, Any]) -> Body:
        if self.api == "audit":
            return client.audit_logs(params)
        return client.web(self.method, params)

    def probe(self, client: SlackClient, what: str) -> str:
        """One cheap authenticated call for `slack-connector check`."""
        body = self.call(client, {"limit": 1} if self.api == "audit" else {"count": 1})
        if self.api == "audit":
            return f"ok, {len(body.get(self.records) or [])} entry returned"
        return f"ok, {(body.get('paging') or {}).get('total', '?')} {what} available"
