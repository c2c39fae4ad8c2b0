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
from connector.search.index import rfc3339
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
    SELECT filename, line, key FROM read_parquet($files, filename = true) WHERE {where}
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
    db.execute(MATCHED.format(where=" OR ".join(where)), params)
    for ord_, count, first, last in db.execute(HEAD).fetchall():
        summary = summaries[ord_]
        summary.count, summary.first_seen, summary.last_seen = count, rfc3339(first), rfc3339(last)
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
