"""Which rows of a day's objects hold an indicator, from the day's compacted index
(`search.compact`).

Per compacted file (one partition-day of one log type) the keys looked up
(`indicators.keys.lookup`) are found by their text, so there is no fingerprint and no
object is read to count: where one key is hit in the file and its first and last time
lie in the window, the count, first and last seen are the file's `n`, `first` and `last`;
otherwise (a window's edge, several keys that can name one row, a key held by one row)
DuckDB counts the distinct (object, line) postings in the window. Only the rows shown
(the newest `limit`) or tallied are read from their objects (`objects`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb

from connector.indicators.keys import EPOCH, MICRO, Lookup
from connector.indicators.match import Indicator
from connector.search import objects
from connector.search.index import rfc3339
from connector.search.results import Newest, Window
from connector.search.summary import Summary
from connector.search.tally import Tallies

Query = tuple[str, dict[str, Any]]


@dataclass
class Day:
    """One compacted file's matches in the window: per indicator (its position in the
    search) the count, first and last time (µs), and the distinct rows holding any."""

    file: str
    objects: list[str]
    count: dict[int, int] = field(default_factory=dict)
    first: dict[int, int] = field(default_factory=dict)
    last: dict[int, int] = field(default_factory=dict)
    rows: int = 0

    def newest(self) -> int:
        return max(self.last.values(), default=-(1 << 62))


def summaries(days: Sequence[Day], size: int) -> list[tuple[int, int, int]]:
    """Per indicator position: count, first and last time over `days`."""
    out = [(0, 1 << 62, -(1 << 62))] * size
    for day in days:
        for ord_, n in day.count.items():
            count, first, last = out[ord_]
            out[ord_] = (count + n, min(first, day.first[ord_]), max(last, day.last[ord_]))
    return out


def merge(into: Sequence[Summary], counted: list[tuple[int, int, int]], rfc3339: Any) -> None:
    """Fold `summaries` into the search's summaries."""
    for mine, (count, first, last) in zip(into, counted, strict=True):
        if count:
            part = Summary(mine.indicator)
            part.count, part.first_seen, part.last_seen = count, rfc3339(first), rfc3339(last)
            mine.merge(part)


STATS = """
SELECT filename, key, n, first, last
FROM read_parquet(string_split($files, chr(10)), filename = true)
WHERE {where}
"""
ENDS = """
SELECT filename, key, sec[1] * 1000000 + us[1], sec[-1] * 1000000 + us[-1]
FROM read_parquet(string_split($files, chr(10)), filename = true)
WHERE {where}
"""
ENDS_KEYS = 64
"""At most this many keys without a stored first and last are given theirs by `ENDS` (a
wide address range can hit thousands: those files are counted from their postings)."""
POSTINGS = """
SELECT filename, key, o, l, s * 1000000 + u AS t FROM (
    SELECT filename, key, unnest(obj) AS o, unnest(line) AS l, unnest(sec) AS s,
        unnest(us) AS u
    FROM read_parquet(string_split($files, chr(10)), filename = true)
    WHERE {where}
)
WHERE s * 1000000 + u BETWEEN $since AND $until
"""
COUNTED = "SELECT filename, count(DISTINCT (o, l)), {columns} FROM ({postings}) GROUP BY filename"
PER_INDICATOR = (
    "count(DISTINCT (o, l)) FILTER (WHERE {mine}), min(t) FILTER (WHERE {mine}), "
    "max(t) FILTER (WHERE {mine})"
)
NEWEST = """
SELECT filename, o, l, list(key) FROM ({postings}) GROUP BY filename, o, l
ORDER BY max(t) DESC, filename, o, l LIMIT $limit
"""
EVERY = "SELECT filename, o, l, list(key) FROM ({postings}) GROUP BY filename, o, l"


def answer(
    db: duckdb.DuckDBPyConnection,
    chosen: dict[str, list[str]],
    wanted: Sequence[tuple[Indicator, Lookup]],
    window: Window,
    kept: Newest,
    tallies: Tallies,
) -> None:
    """A search's answer from the `chosen` compacted files (file -> the objects it
    covers, `compact.choose`). Counts come from the index; the newest rows are read from
    the newest days' objects, a few days a query (enough rows for `limit`), until no day
    left can hold a newer one; with the tallies, every matching row."""
    indicators, looks = [i for i, _ in wanted], [look for _, look in wanted]
    since, until = ((t - EPOCH) // MICRO for t in (window.since, window.until))
    found = plan(db, chosen, looks, since, until)
    if not tallies.facets:
        merge(tallies.summaries, summaries(found, len(indicators)), rfc3339)
    kept.rows += sum(day.rows for day in found)
    pending = list(found)
    while pending:
        if kept.settled(pending[0].newest()):
            break
        batch = [pending.pop(0)]
        while pending and sum(day.rows for day in batch) < kept.limit:
            batch.append(pending.pop(0))
        shown = newest_rows(db, batch, looks, since, until, kept.limit)
        paths = sorted(shown)
        for start in range(0, len(paths), objects.READ_TOGETHER):
            for path, body in objects.bodies(
                db, paths[start : start + objects.READ_TOGETHER]
            ).items():
                per = shown[path]
                picked = objects.rows(path, body, (n for lines in per.values() for n in lines))
                kept.add(objects.hits(path, picked, per, indicators), window)
    for day in found if tallies.facets else ():
        every = every_row(db, day, looks, since, until)
        paths = sorted(every)
        for start in range(0, len(paths), objects.READ_TOGETHER):
            bodies = objects.bodies(db, paths[start : start + objects.READ_TOGETHER])
            for path, body in bodies.items():
                rows = objects.lines(path, body)
                for ord_, numbers in every[path].items():
                    tallies.add(ord_, objects.text(path, rows, numbers))


def plan(
    db: duckdb.DuckDBPyConnection,
    chosen: dict[str, list[str]],
    wanted: Sequence[Lookup],
    since_us: int,
    until_us: int,
) -> list[Day]:
    """The matches of every chosen compacted file (file -> its objects' paths) in the
    window, newest file first; files without a match are left out. Raises `duckdb.Error`."""
    if not chosen:
        return []
    where, params = condition(wanted)
    hit: dict[str, dict[str, tuple[int, int | None, int | None]]] = {}
    sql = STATS.format(where=where)
    for file, key, n, first, last in db.execute(
        sql, {**params, "files": "\n".join(sorted(chosen))}
    ).fetchall():
        hit.setdefault(file, {})[key] = (n, first, last)
    _ends(db, hit)
    days: list[Day] = []
    counted: list[str] = []
    for file, keys in sorted(hit.items()):
        alone = _alone(keys, since_us, until_us)
        if alone is None:
            counted.append(file)
            continue
        day = Day(file, chosen[file], rows=alone[1])
        for ord_ in ords_of(alone[0], wanted):
            day.count[ord_], day.first[ord_], day.last[ord_] = alone[1:]
        days.append(day)
    days += _counted(db, counted, chosen, wanted, since_us, until_us)
    return sorted((d for d in days if d.rows), key=Day.newest, reverse=True)


def _ends(
    db: duckdb.DuckDBPyConnection, hit: dict[str, dict[str, tuple[int, int | None, int | None]]]
) -> None:
    """Fill in the first and last time of the keys hit that have none stored (in fewer
    than `compact.FIRST_LAST` rows) from their lists' ends: one more query, over the
    files where one is alone, reading short lists (asking for the ends of every key hit in
    the stats query would decode a common key's whole lists)."""
    short = {
        key
        for keys in hit.values()
        if len(keys) == 1
        for key, (_, first, _) in keys.items()
        if first is None
    }
    if not short or len(short) > ENDS_KEYS:
        return
    files = sorted(f for f, keys in hit.items() if len(keys) == 1 and short & keys.keys())
    params = {f"e{n}": key for n, key in enumerate(sorted(short))}
    where = "(" + " OR ".join(f"key = ${name}" for name in params) + ")"
    sql = ENDS.format(where=where)
    for file, key, first, last in db.execute(sql, {**params, "files": "\n".join(files)}).fetchall():
        n, stored, _ = hit[file][key]
        if stored is None:
            hit[file][key] = (n, first, last)


def _alone(
    keys: dict[str, tuple[int, int | None, int | None]], since_us: int, until_us: int
) -> tuple[str, int, int, int] | None:
    """The one key hit in a file with its count, first and last time, when those are
    the answer: no other key can share its rows, and all its rows are in the window."""
    if len(keys) != 1:
        return None
    ((key, (n, first, last)),) = keys.items()
    if first is None or last is None or not since_us <= first <= last <= until_us:
        return None
    return key, n, first, last


def _counted(
    db: duckdb.DuckDBPyConnection,
    files: Sequence[str],
    chosen: dict[str, list[str]],
    wanted: Sequence[Lookup],
    since_us: int,
    until_us: int,
) -> list[Day]:
    """Matches counted from the postings in the window (distinct rows per indicator)."""
    if not files:
        return []
    where, params = condition(wanted)
    columns = []
    for n, look in enumerate(wanted):
        mine, extra = condition([look], f"o{n}_")
        columns.append(PER_INDICATOR.format(mine=mine))
        params.update(extra)
    sql = COUNTED.format(columns=", ".join(columns), postings=POSTINGS.format(where=where))
    out = []
    args = {**params, "files": "\n".join(files), "since": since_us, "until": until_us}
    for file, rows, *per in db.execute(sql, args).fetchall():
        day = Day(file, chosen[file], rows=rows)
        for ord_ in range(len(wanted)):
            count, first, last = per[3 * ord_ : 3 * ord_ + 3]
            if count:
                day.count[ord_], day.first[ord_], day.last[ord_] = count, first, last
        out.append(day)
    return out


def newest_rows(
    db: duckdb.DuckDBPyConnection,
    days: Sequence[Day],
    wanted: Sequence[Lookup],
    since_us: int,
    until_us: int,
    limit: int,
) -> dict[str, dict[int, list[int]]]:
    """The newest `limit` matching rows of `days`: per object path, per indicator
    position, the ascending lines."""
    where, params = condition(wanted)
    sql = NEWEST.format(postings=POSTINGS.format(where=where))
    files = "\n".join(day.file for day in days)
    args = {**params, "files": files, "since": since_us, "until": until_us, "limit": limit}
    return _per_object(days, wanted, db.execute(sql, args).fetchall())


def every_row(
    db: duckdb.DuckDBPyConnection,
    day: Day,
    wanted: Sequence[Lookup],
    since_us: int,
    until_us: int,
) -> dict[str, dict[int, list[int]]]:
    """Every matching row of one day, as `newest_rows` gives them (for the tallies)."""
    where, params = condition(wanted)
    sql = EVERY.format(postings=POSTINGS.format(where=where))
    args = {**params, "files": day.file, "since": since_us, "until": until_us}
    return _per_object([day], wanted, db.execute(sql, args).fetchall())


def _per_object(
    days: Sequence[Day], wanted: Sequence[Lookup], rows: Any
) -> dict[str, dict[int, list[int]]]:
    objects = {day.file: day.objects for day in days}
    out: dict[str, dict[int, list[int]]] = {}
    for file, obj, line, keys in rows:
        per = out.setdefault(objects[file][obj], {})
        for ord_ in sorted({o for key in keys for o in ords_of(key, wanted)}):
            per.setdefault(ord_, []).append(line)
    for per in out.values():
        for lines in per.values():
            lines.sort()
    return out


def ords_of(key: str, wanted: Sequence[Lookup]) -> list[int]:
    """The positions of the lookups that find `key`."""
    return [
        n
        for n, look in enumerate(wanted)
        if key in look.keys or (look.low and look.low <= key <= look.high)
    ]


def condition(wanted: Sequence[Lookup], tag: str = "k") -> Query:
    """The SQL condition on `key` finding any of `wanted`, with its parameters. An
    address range is a key range: its keys are fixed-width hex under one prefix."""
    parts: list[str] = []
    params: dict[str, Any] = {}
    for n, look in enumerate(wanted):
        for m, key in enumerate(look.keys):
            parts.append(f"key = ${tag}{n}_{m}")
            params[f"{tag}{n}_{m}"] = key
        if look.low:
            parts.append(f"key BETWEEN ${tag}l{n} AND ${tag}h{n}")
            params.update({f"{tag}l{n}": look.low, f"{tag}h{n}": look.high})
    return "(" + (" OR ".join(parts) or "false") + ")", params
