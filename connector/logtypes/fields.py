"""Field types shared by the log-type models.

Slack's JSON is loose where the schemas say `string` or `timestamp`: `service_id` is a
number in one record and a string in the next, integration `date` is a string of unix
seconds. The models accept what Slack really sends (the raw record is what gets
written) and do it inside pydantic-core, without a Python callback per field: validation
is most of the connector's CPU per event.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import Field, StrictFloat, StrictInt, StrictStr

from connector.stream.times import MAX_UNIX_TIME, as_ts, event_time, event_times

__all__ = [
    "MAX_UNIX_TIME",
    "LooseStr",
    "SchemaType",
    "UnixTime",
    "as_ts",
    "event_time",
    "event_times",
    "indicator",
]


@dataclass(frozen=True)
class SchemaType:
    """The seed schema's type for a field, kept in the annotation so tests can compare."""

    name: str


LooseStr = Annotated[StrictStr | StrictInt | StrictFloat, SchemaType("string")]
"""`string` in the schema: a JSON string, or a number Slack sent where a string belongs."""

UnixTime = Annotated[
    float, Field(ge=0, le=MAX_UNIX_TIME, allow_inf_nan=False), SchemaType("timestamp")
]
"""`timestamp` with `timeFormat: unix`: seconds since the epoch, as a number or a numeric
string, bounded so a millisecond value is invalid instead of a year-50000 crash later."""


def indicator(*kinds: str, required: bool = False) -> Any:
    """A field whose values feed `p_any_<kind>` standard fields (the schema's `indicators`)."""
    extra: dict[str, Any] = {"indicators": list(kinds)}
    if required:
        return Field(json_schema_extra=extra)
    return Field(default=None, json_schema_extra=extra)
