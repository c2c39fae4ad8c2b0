"""A search answered from the objects' indexes (`search.index`) in SQL.

The rows an indicator matches are the index's postings under its keys
(`indicators.keys.lookup`), each attributed to the first indicator asked that holds it (as
the scan attributes a row); their facets give the exact count, first and last seen, and
the tallies of the summary, all computed by DuckDB. Python only sees the tallies' values
and the newest `limit` (object, line) pairs, whose rows are then read from those objects.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import duckdb

from connector.indicators.keys import Lookup
from connector.indicators.match import Indicator
from connector.search import partitions
from connector.search.index import EPOCH, MICRO, rfc3339
from connector.search.summary import DISTINCT_CAP, Summary, Tally


@dataclass(frozen=True)
class Located:
    """One matching row: the index file it was found in, its line, and what matched."""

    index: str
    line: int
    indicator: Indicator
    time: int


WANTED = "CREATE OR REPLACE TEMP TABLE wanted (ord INT, key VARCHAR, low VARCHAR, high VARCHAR)"
MATCHED = """
CREATE OR REPLACE TEMP TABLE matched AS
WITH p AS (
    SELECT filename, line, key FROM read_parquet($files, filename = true)
    WHERE ({where}) AND line IS NOT NULL
),
attributed AS (
    SELECT p.filename, p.line, min(w.ord) AS ord
    FROM p JOIN wanted w
      ON p.key = w.key OR (w.low IS NOT NULL AND p.key BETWEEN w.low AND w.high)
    GROUP BY p.filename, p.line
)
SELECT a.filename, a.line, a.ord, f.time, f.log_type, f.source, f.actor, f.action, f.ips
FROM attributed a
JOIN read_parquet($files, filename = true) f
  ON f.filename = a.filename AND f.line = a.line AND f.key IS NULL
WHERE f.time BETWEEN $since AND $until
"""
HEAD = "SELECT ord, count(*), min(time), max(time) FROM matched GROUP BY ord"
STAT = """
SELECT coalesce(sum(count), 0), min(time), max(last) FROM read_parquet($files)
WHERE key = $key AND line IS NULL
"""
TALLY = """
SELECT ord, value, n FROM (
    SELECT ord, value, n,
           row_number() OVER (PARTITION BY ord ORDER BY n DESC, value) AS rank
    FROM (SELECT ord, {column} AS value, count(*) AS n FROM matched{unnest}
          GROUP BY ord, value HAVING value IS NOT NULL AND value <> '')
)
WHERE rank <= $cap + 1
"""
NEWEST = """
SELECT filename, line, ord, time FROM matched
ORDER BY time DESC, filename DESC, line DESC LIMIT $limit
"""
TALLIES = {
    "log_types": ("log_type", ""),
    "sources": ("source", ""),
    "actors": ("actor", ""),
    "actions": ("action", ""),
    "ips": ("ip", ", unnest(ips) AS u(ip)"),
}


def find(
    db: duckdb.DuckDBPyConnection,
    files: Sequence[str],
    wanted: Sequence[tuple[Indicator, Lookup]],
    since_us: int,
    until_us: int,
    limit: int,
    tally: bool = True,
) -> tuple[list[Summary], list[Located]]:
    """Summaries (in the order of `wanted`) and the newest `limit` matches; raises
    `duckdb.Error`."""
    indicators = [indicator for indicator, _ in wanted]
    summaries = [Summary(i) for i in indicators]
    if not files:
        return summaries, []
    db.execute(WANTED)
    rows: list[tuple[int, str | None, str | None, str | None]] = []
    where: list[str] = []
    params: dict[str, Any] = {"files": list(files), "since": since_us, "until": until_us}
    for ord_, (_, look) in enumerate(wanted):
        rows += [(ord_, key, None, None) for key in look.keys]
        if look.low:
            rows.append((ord_, None, look.low, look.high))
    for n, (_, key, low, high) in enumerate(rows):
        if key is not None:
            where.append(f"key = $k{n}")
            params[f"k{n}"] = key
        else:
            where.append(f"key BETWEEN $l{n} AND $h{n}")
            params.update({f"l{n}": low, f"h{n}": high})
    db.executemany("INSERT INTO wanted VALUES (?, ?, ?, ?)", rows)
    match = " OR ".join(where)
    look = wanted[0][1]
    if not tally and len(wanted) == 1 and len(look.keys) == 1 and not look.low:
        return [_one_key(db, files, look.keys[0], match, params, limit, summaries[0])], [
            Located(f, line, indicators[o], t)
            for f, line, o, t in _newest(db, files, match, params, limit)
        ]
    _match(db, files, match, params)
    _head(db, summaries)
    for name, (column, unnest) in TALLIES.items() if tally else ():
        query = TALLY.format(column=column, unnest=unnest)
        tallies: dict[int, Tally] = {}
        for ord_, value, n in db.execute(query, {"cap": DISTINCT_CAP}).fetchall():
            counted = tallies.setdefault(ord_, Tally(Counter()))
            if len(counted.counts) < DISTINCT_CAP:
                counted.counts[value] = n
            else:
                counted.capped = True
        for ord_, counted in tallies.items():
            setattr(summaries[ord_], name, counted)
    located = [
        Located(filename, line, indicators[ord_], time)
        for filename, line, ord_, time in db.execute(NEWEST, {"limit": limit}).fetchall()
    ]
    db.execute("DROP TABLE matched")
    return summaries, located


Params = dict[str, Any]


def _match(db: duckdb.DuckDBPyConnection, files: Sequence[str], match: str, params: Params) -> None:
    db.execute(MATCHED.format(where=match), {**params, "files": list(files)})


def _head(db: duckdb.DuckDBPyConnection, summaries: Sequence[Summary]) -> None:
    for ord_, count, first, last in db.execute(HEAD).fetchall():
        summary = summaries[ord_]
        summary.count, summary.first_seen, summary.last_seen = count, rfc3339(first), rfc3339(last)


def _one_key(
    db: duckdb.DuckDBPyConnection,
    files: Sequence[str],
    key: str,
    match: str,
    params: Params,
    limit: int,
    summary: Summary,
) -> Summary:
    """One key, no tallies (the first screen): an object whose partition lies inside the
    window is counted from its stat row alone; only the objects at the window's edges
    are joined row by row."""
    since, until = params["since"], params["until"]
    inner: list[str] = []
    edge: list[str] = []
    for f in files:
        span = _span(f)
        (inner if span and span[0] >= since and span[1] - 1 <= until else edge).append(f)
    firsts, lasts, count = [], [], 0
    if inner:
        n, first, last = db.execute(STAT, {"files": inner, "key": key}).fetchone() or (
            0,
            None,
            None,
        )
        count += int(n)
        firsts += [first] if first is not None else []
        lasts += [last] if last is not None else []
    if edge:
        _match(db, edge, match, params)
        for _, n, first, last in db.execute(HEAD).fetchall():
            count += n
            firsts.append(first)
            lasts.append(last)
    summary.count = count
    if count:
        summary.first_seen, summary.last_seen = rfc3339(min(firsts)), rfc3339(max(lasts))
    return summary


def _newest(
    db: duckdb.DuckDBPyConnection, files: Sequence[str], match: str, params: Params, limit: int
) -> list[tuple[str, int, int, int]]:
    """The newest `limit` matches, reading the newest objects first in growing chunks
    and stopping once every object left ends before the oldest match kept."""
    ends = {f: (span[1] if (span := _span(f)) else 1 << 62) for f in files}
    pending = sorted(files, key=lambda f: ends[f], reverse=True)
    kept: list[tuple[str, int, int, int]] = []
    start, size = 0, 4
    while start < len(pending):
        _match(db, pending[start : start + size], match, params)
        kept += db.execute(NEWEST, {"limit": limit}).fetchall()
        kept = sorted(kept, key=lambda r: (r[3], r[0], r[1]), reverse=True)[:limit]
        start, size = start + size, size * 2
        if len(kept) >= limit and start < len(pending) and ends[pending[start]] <= kept[-1][3]:
            break
    return kept


def _span(path: str) -> tuple[int, int] | None:
    """The partition's time span in microseconds (end exclusive), or None."""
    bounds = partitions.span(path)
    if bounds is None:
        return None
    return (bounds[0] - EPOCH) // MICRO, (bounds[1] - EPOCH) // MICRO
