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
from connector.search import objects, parallel
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


SCAN = """
SELECT {columns} FROM read_parquet(string_split($files, chr(10)), filename = true)
WHERE {where}
"""
STATS = "filename, key, n, first, last"
ENDS = "filename, key, sec[1] * 1000000 + us[1], sec[-1] * 1000000 + us[-1]"
ENDS_KEYS = 64
"""At most this many keys without a stored first and last are given theirs by `ENDS` (a
wide address range can hit thousands: those files are counted from their postings)."""
POSTINGS = """
SELECT filename, key, o, l, s * 1000000 + u AS t FROM ({rows})
WHERE s * 1000000 + u BETWEEN $since AND $until
"""
UNNESTED = "filename, key, unnest(obj) AS o, unnest(line) AS l, unnest(sec) AS s, unnest(us) AS u"
COUNTED = "SELECT filename, count(DISTINCT (o, l)), {columns} FROM ({postings}) GROUP BY filename"
PER_INDICATOR = (
    "count(DISTINCT (o, l)) FILTER (WHERE {mine}), min(t) FILTER (WHERE {mine}), "
    "max(t) FILTER (WHERE {mine})"
)
NEWEST = """
SELECT filename, o, l, list(key), max(t) AS t FROM ({postings}) GROUP BY filename, o, l
ORDER BY t DESC, filename, o, l LIMIT $limit
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
        for path, body in objects.stored(db, sorted(shown)):
            per = shown[path]
            picked = objects.rows(path, body, (n for lines in per.values() for n in lines))
            kept.add(objects.hits(path, picked, per, indicators), window)
    for day in found if tallies.facets else ():
        every = every_row(db, day, looks, since, until)
        for path, body in objects.stored(db, sorted(every)):
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
    sql, params = scans(wanted, STATS)
    hit: dict[str, dict[str, tuple[int, int | None, int | None]]] = {}
    for file, key, n, first, last in _per_file(db, sql, params, sorted(chosen)):
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
    sql, params = scans([Lookup(tuple(sorted(short)))], ENDS)
    for file, key, first, last in _per_file(db, sql, params, files):
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
    rows, params = scans(wanted, UNNESTED)
    columns = []
    for n, look in enumerate(wanted):
        mine, extra = condition([look], f"o{n}_")
        columns.append(PER_INDICATOR.format(mine=mine))
        params.update(extra)
    sql = COUNTED.format(columns=", ".join(columns), postings=POSTINGS.format(rows=rows))
    out = []
    args = {**params, "since": since_us, "until": until_us}
    for file, rows, *per in _per_file(db, sql, args, files):
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
    position, the ascending lines. A row is in one file, so the newest of all are the
    newest of the files' newest, asked of parts of the files side by side over S3."""
    rows, params = scans(wanted, UNNESTED)
    sql = NEWEST.format(postings=POSTINGS.format(rows=rows))
    args = {**params, "since": since_us, "until": until_us, "limit": limit}
    found = _per_file(db, sql, args, [day.file for day in days])
    found.sort(key=lambda row: (-row[4], row[0], row[1], row[2]))
    return _per_object(days, wanted, [row[:4] for row in found[:limit]])


def every_row(
    db: duckdb.DuckDBPyConnection,
    day: Day,
    wanted: Sequence[Lookup],
    since_us: int,
    until_us: int,
) -> dict[str, dict[int, list[int]]]:
    """Every matching row of one day, as `newest_rows` gives them (for the tallies)."""
    rows, params = scans(wanted, UNNESTED)
    sql = EVERY.format(postings=POSTINGS.format(rows=rows))
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


def scans(wanted: Sequence[Lookup], columns: str) -> Query:
    """The key rows finding any of `wanted` (their `columns`), one scan per key or key
    range joined by UNION ALL, with the parameters: DuckDB skips row groups by the key
    statistics of an equality or a range, not of an OR of them (a user id's two keys
    read every row group's postings: 0.59 CPU s for a month's files against 0.21). The
    scans are disjoint (overlapping ranges merged, keys inside a range left to it), so
    each key row comes once, as from the OR of `condition`."""
    ranges: list[list[str]] = []
    for low, high in sorted((look.low, look.high) for look in wanted if look.low):
        if ranges and low <= ranges[-1][1]:
            ranges[-1][1] = max(ranges[-1][1], high)
        else:
            ranges.append([low, high])
    keys = sorted(
        {k for look in wanted for k in look.keys if not any(a <= k <= b for a, b in ranges)}
    )
    parts = [SCAN.format(columns=columns, where=f"key = $s{m}") for m in range(len(keys))]
    parts += [
        SCAN.format(columns=columns, where=f"key BETWEEN $sl{m} AND $sh{m}")
        for m in range(len(ranges))
    ]
    params: dict[str, Any] = {f"s{m}": key for m, key in enumerate(keys)}
    for m, (low, high) in enumerate(ranges):
        params.update({f"sl{m}": low, f"sh{m}": high})
    return " UNION ALL ".join(parts) or SCAN.format(columns=columns, where="false"), params


def _per_file(
    db: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any], files: Sequence[str]
) -> list[tuple[Any, ...]]:
    """The rows of `sql` over `files` (its answer per file, each row naming its file):
    over S3 the files in `parallel.WORKERS` parts, side by side, each a few row groups'
    GETs; locally one query."""
    if not files:
        return []
    side_by_side = parallel.remote(files[0])
    parts = min(len(files), parallel.WORKERS if side_by_side else 1)
    chunks = [files[n::parts] for n in range(parts)]

    def run(cursor: duckdb.DuckDBPyConnection, chunk: Sequence[str]) -> list[tuple[Any, ...]]:
        return cursor.execute(sql, {**params, "files": "\n".join(chunk)}).fetchall()

    return [row for rows in parallel.each(db, chunks, run, side_by_side) for row in rows]
