"""How the DynamoDB store spells its items: numbers, JSON values, the dedupe keys'
partition of a stream, and a lease item as an operator reads it."""

from __future__ import annotations

from typing import Any

import orjson

from connector import clock
from connector.state.leases import Stream
from connector.state.table import Item


def lease_view(item: Item) -> dict[str, Any]:
    """Seconds since renewal are by the writer's wall clock against this host's, so
    only as exact as the two clocks agree (a display, never a decision)."""
    renewed = item.get("renewed_at")
    return {
        "owner": item["owner"]["S"],
        "epoch": int(item["epoch"]["N"]),
        "seconds_since_renewal": max(0, clock.now_ts() - int(renewed["N"])) if renewed else None,
    }


def keys_pk(stream: Stream) -> str:
    return f"K#{stream[0]}#{stream[1]}"


def num(value: int) -> dict[str, str]:
    return {"N": str(value)}


def value_item(value: dict[str, Any]) -> Item:
    return {"value": {"B": orjson.dumps(value)}}


def item_value(item: Item | None) -> dict[str, Any] | None:
    if not item:
        return None
    decoded: dict[str, Any] = orjson.loads(item["value"]["B"])
    return decoded
