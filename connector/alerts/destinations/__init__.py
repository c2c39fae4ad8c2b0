"""Alert destinations, one module each, registered in `connector.alerts.base.REGISTRY`.

The config loader validates each `[[alerts.destinations]]` table with
`options_model(table["type"]).model_validate(table)` and hands the result to `build`.
"""

from __future__ import annotations

from pydantic import BaseModel

from connector.alerts.base import REGISTRY, Destination
from connector.alerts.destinations import pagerduty, slack_webhook, sns, webhook

__all__ = ["build", "kinds", "options_model", "pagerduty", "slack_webhook", "sns", "webhook"]


def kinds() -> list[str]:
    return sorted(REGISTRY)


def _destination_class(kind: object) -> type[Destination]:
    cls = REGISTRY.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ValueError(
            f"unknown alert destination type {kind!r}; known types: {', '.join(kinds())}"
        )
    return cls


def options_model(kind: str) -> type[BaseModel]:
    """The pydantic model that validates a destination table of this `type`."""
    model = getattr(_destination_class(kind), "options_model", None)
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise TypeError(f"alert destination {kind!r} has no options model")
    return model


def build(options: BaseModel) -> Destination:
    """A destination from its validated options (the `type` field picks the class)."""
    cls = _destination_class(getattr(options, "type", None))
    model = options_model(cls.kind)
    if not isinstance(options, model):
        raise TypeError(f"expected {model.__name__} for {cls.kind!r}, got {type(options).__name__}")
    destination = cls.from_options(options)  # type: ignore[attr-defined]
    if not isinstance(destination, Destination):
        raise TypeError(f"{cls.__name__}.from_options did not return a Destination")
    return destination
