"""Field types shared by the log-type models.

Slack's JSON is loose where the schemas say `string` or `timestamp`: `service_id` is a
number in one record and a string in the next, integration `date` is a string of unix
seconds. The models accept what Slack really sends (the raw record is what gets
written) and do it inside pydantic-core, without a Python callback per field: validation
is most of the connector's CPU per event.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import Field, StrictFloat, StrictInt, StrictStr


@dataclass(frozen=True)
class SchemaType:
    """The seed schema's type for a field, kept in the annotation so tests can compare."""

    name: str


LooseStr = Annotated[StrictStr | StrictInt | StrictFloat, SchemaType("string")]
"""`string` in the schema: a JSON string, or a number Slack sent where a string belongs."""

MAX_UNIX_TIME = 4_294_967_295
"""2106-02-07, the last second a 32-bit unsigned time holds: a millisecond value (1.7e12 in
2026) is far beyond it, and so is anything a calendar or a partition path cannot hold."""

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


def event_time(value: Any) -> float | None:
    """A unix time a watermark may trust: what `UnixTime` accepts, else None."""
    ts = as_ts(value)
    return ts if ts is not None and 0 <= ts <= MAX_UNIX_TIME else None


def event_times(records: Iterable[Any], field: str) -> list[float | None]:
    """`event_time` of `field` in each record that is an object; the others say nothing."""
    return [event_time(r.get(field)) for r in records if isinstance(r, dict)]


def as_ts(value: Any) -> float | None:
    """A unix time from an int, float or numeric string; None when it is none of those."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None
