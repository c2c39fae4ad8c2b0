"""Which landed objects can hold events of a time range, read from their Hive partitions.

Objects live under `{log_type}/year=2026/month=3/day=7[/hour=9]/` (zero-padded before the
layout of `connector.ingest.partition`). Only the months of
the range are listed, and an object is kept when its partition's span (an hour, or a
whole day where a log type is partitioned daily) overlaps the range. Partition values
are read as numbers, so `hour=5` and `hour=05` both work, and hourly and daily folders
may sit side by side in one log type (DuckDB's own `hive_partitioning` refuses a file
list whose partition keys differ, so the pruning is done here).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta

_KEY = re.compile(r"/(year|month|day|hour)=(\d{1,4})(?=/)")


def month_globs(
    root: str, log_type: str, since: datetime, until: datetime, suffix: str = ".json.gz"
) -> Iterator[str]:
    """One glob per calendar month the range touches, and for January to September a
    second one: the connector writes `month=3`, earlier versions wrote `month=03`."""
    year, month = since.year, since.month
    while (year, month) <= (until.year, until.month):
        yield f"{root}/{log_type}/year={year}/month={month}/**/*{suffix}"
        if month < 10:
            yield f"{root}/{log_type}/year={year}/month={month:02d}/**/*{suffix}"
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def span(path: str) -> tuple[datetime, datetime] | None:
    """The time span a path's partitions cover, or None when it has no date partitions."""
    keys = {k: int(v) for k, v in _KEY.findall(path)}
    if not {"year", "month", "day"} <= keys.keys():
        return None
    try:
        start = datetime(keys["year"], keys["month"], keys["day"], keys.get("hour", 0), tzinfo=UTC)
    except ValueError:
        return None
    return start, start + (timedelta(hours=1) if "hour" in keys else timedelta(days=1))


def prune(paths: Iterable[str], since: datetime, until: datetime) -> list[str]:
    """Paths whose partition overlaps [since, until]; paths without partitions are kept."""
    kept = []
    for path in paths:
        bounds = span(path)
        if bounds is None or (bounds[0] <= until and bounds[1] > since):
            kept.append(path)
    return sorted(kept)
