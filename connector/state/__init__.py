"""Durable connector state: checkpoints, dedupe keys (`keys`), write intents and the unit
of work that commits them (`unit`), source health, leases, and where OAuth token pairs
live (`token_store`, `tokens`).

`[state] type` picks the backend from `REGISTRY`, like `[output] type` and the alert
destinations: each kind brings its own options model (validated from the `[state]`
table), opens its store, and says where OAuth token pairs live.

May import: `logtypes`, `slack`, foundations.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from connector.state.base import Intent, LeaseLost, StateError, StateStore
from connector.state.options import DynamoDBOptions, SqliteOptions, StateOptions
from connector.state.unit import UnitOfWork

REGISTRY: dict[str, type[StateOptions]] = {
    "sqlite": SqliteOptions,
    "dynamodb": DynamoDBOptions,
}

__all__ = [
    "REGISTRY",
    "DynamoDBOptions",
    "Intent",
    "LeaseLost",
    "SqliteOptions",
    "StateError",
    "StateOptions",
    "StateStore",
    "UnitOfWork",
    "options_model",
]


def options_model(table: Any) -> type[StateOptions]:
    """The model for a `[state]` table, by its `type` (SQLite when absent)."""
    kind = table.get("type", "sqlite") if isinstance(table, dict) else None
    if isinstance(table, BaseModel):
        kind = getattr(table, "type", None)
    model = REGISTRY.get(kind) if isinstance(kind, str) else None
    if model is None:
        raise ValueError(f"type: unknown state store {kind!r}; choose from {sorted(REGISTRY)}")
    return model
