"""The Audit Logs API's own catalog: `GET /audit/v1/actions` (every action it can return,
by category) and `GET /audit/v1/schemas` (every entity type). Neither needs a token, so
none is sent. Answers are parsed strictly: a list the connector cannot read is an error
the caller logs and retries, never an empty list that would make everything look new."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from connector.budget import MEMORY
from connector.slack.errors import SlackTransientError

ACTIONS, SCHEMAS = "actions", "schemas"


@dataclass(frozen=True)
class Listing:
    actions: dict[str, str]
    """Action name → its category (`""` when Slack listed it without one)."""
    entity_types: frozenset[str]


def fetch(http: httpx.Client, audit_api_url: str) -> Listing:
    """Both lists, or `SlackTransientError` saying what was wrong with either."""
    return Listing(
        actions(_get(http, audit_api_url, ACTIONS)),
        entity_types(_get(http, audit_api_url, SCHEMAS)),
    )


def actions(body: dict[str, Any]) -> dict[str, str]:
    listed = body.get("actions")
    found: dict[str, str] = {}
    if isinstance(listed, dict):
        for category, names in listed.items():
            if not isinstance(names, list):
                raise _malformed(ACTIONS, f"category {category!r} is not a list")
            found.update((str(n), str(category)) for n in names if isinstance(n, str) and n)
    elif isinstance(listed, list):
        found.update((n, "") for n in listed if isinstance(n, str) and n)
    if not found:
        raise _malformed(ACTIONS, "no action names in the answer")
    return found


def entity_types(body: dict[str, Any]) -> frozenset[str]:
    listed = body.get("schemas")
    found: set[str] = set()
    if isinstance(listed, list):
        for item in listed:
            kind = item.get("type") if isinstance(item, dict) else item
            if isinstance(kind, str) and kind:
                found.add(kind)
    if not found:
        raise _malformed(SCHEMAS, "no entity types in the answer")
    return frozenset(found)


def _get(http: httpx.Client, base: str, name: str) -> dict[str, Any]:
    url = base.rstrip("/") + "/" + name
    try:
        resp = http.get(url, headers={"Accept": "application/json"})
    except httpx.HTTPError as exc:
        raise SlackTransientError("catalog", name, f"{type(exc).__name__}") from None
    if resp.status_code != 200:
        raise SlackTransientError(
            "catalog", name, f"HTTP {resp.status_code}", status=resp.status_code
        )
    if len(resp.content) > MEMORY.max_response_bytes:
        raise _malformed(name, "answer larger than [limits] max_response_bytes")
    try:
        body = orjson.loads(resp.content)
    except orjson.JSONDecodeError:
        raise _malformed(name, "not JSON") from None
    if not isinstance(body, dict):
        raise _malformed(name, "not a JSON object")
    return body


def _malformed(name: str, why: str) -> SlackTransientError:
    return SlackTransientError("catalog", name, f"malformed answer: {why}")
