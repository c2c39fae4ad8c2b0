"""Field types shared by the log-type models.

Slack's JSON is loose where the schemas say `string` or `timestamp`: `service_id` is a
number in one record and a string in the next, integration `date` is a string of unix
seconds. The models accept what Slack really sends; the raw record is what gets written.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field


def _loose_str(value: Any) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


def _unix_time(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return value
    return value


LooseStr = Annotated[str, BeforeValidator(_loose_str)]
"""`string` in the schema: a JSON string, or a number Slack sent where a string belongs."""

UnixTime = Annotated[float, BeforeValidator(_unix_time), Field(ge=0)]
"""`timestamp` with `timeFormat: unix`: seconds since the epoch, as a number or a numeric string."""


def indicator(*kinds: str, required: bool = False) -> Any:
    """A field whose values feed `p_any_<kind>` standard fields (the schema's `indicators`)."""
    extra: dict[str, Any] = {"indicators": list(kinds)}
    if required:
        return Field(json_schema_extra=extra)
    return Field(default=None, json_schema_extra=extra)
