"""Hive partitions of the output: an event hour or an event day, per log type.

Audit logs are large and read by hour; access and integration logs are a few rows a day
and a first poll spreads months of them over thousands of hours, so they are partitioned
by day. Values are written without leading zeros (`month=3`, `hour=7`): engines that
infer partition types (DuckDB, Spark) then read every value as an integer, where `03`
read as text and `13` as a number; the Athena DDL declares them `int`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True)
class Granularity:
    name: str
    seconds: int
    fields: tuple[str, ...]

    def path(self, bucket: int) -> str:
        return _path(self, bucket)


@functools.lru_cache(maxsize=4096)
def _path(granularity: Granularity, bucket: int) -> str:
    when = datetime.fromtimestamp(bucket * granularity.seconds, UTC)
    values = {"year": when.year, "month": when.month, "day": when.day, "hour": when.hour}
    return "/".join(f"{name}={values[name]}" for name in granularity.fields)


HOUR = Granularity("hour", 3600, ("year", "month", "day", "hour"))
DAY = Granularity("day", 86_400, ("year", "month", "day"))
GRANULARITIES = {g.name: g for g in (HOUR, DAY)}
