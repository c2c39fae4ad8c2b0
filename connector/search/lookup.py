"""Which objects hold an indicator, and where, from their indexes (`search.index`).

An object's fingerprints (`h`) say which objects can hold a key looked up
(`indicators.keys.lookup`); its posting lists say exactly which lines hold the keys that
two rows or more hold. Per object, the matches of every indicator asked are then either

- *listed*: every key looked up that the object can hold has a list, so the lines, count,
  first and last seen of each indicator are the index's (a line holding two indicators
  counts for each), and the number of distinct lines among them, or
- *to read*: a fingerprint without a list (a key in one row, or a collision), an address
  range over IPv6 (one fingerprint covers many addresses), or listed lines outside the
  window (an object at its edge): the object is scanned with `Indicator.matches`, exact
  by definition.

Counts are SQL over the index; Python sees one row per (object, key) with a list, and
the lines only of the objects it reads rows from.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb

from connector.indicators.keys import Lookup
from connector.indicators.match import Indicator
from connector.search import parallel
from connector.search.index import bounds, fingerprint, rfc3339
from connector.search.summary import Summary

_IP4_MASK = (1 << 32) - 1
Query = tuple[list[str], dict[str, Any]]
CHUNK = 100
"""Index files read by one query: DuckDB's memory grows with the files of a query (at 1M
rows, 735 files in one query took 130 MB more than 100 at a time)."""


@dataclass
class Listed:
    """One object's matches known from its index: per indicator (its position in the
    search), the keys with lists, and their count, first and last time; and how many
    distinct lines hold any of them."""

    keys: dict[int, list[str]] = field(default_factory=dict)
    count: dict[int, int] = field(default_factory=dict)
    first: dict[int, int] = field(default_factory=dict)
    last: dict[int, int] = field(default_factory=dict)
    rows: int = 0

    def within(self, since_us: int, until_us: int) -> bool:
        """Whether every listed line is in the window (else the object is read)."""
        return all(since_us <= t for t in self.first.values()) and all(
            t <= until_us for t in self.last.values()
        )

    def newest(self) -> int:
        """The time of the object's newest listed line (µs): what it can add to the newest
        rows shown, bounded by the data itself, not by its partition (many objects can
        share one partition, and every row of one can be older than its end)."""
        return max(self.last.values(), default=-(1 << 62))


@dataclass
class Plan:
    """Per index file: its matches from the index (`listed`), or the object to read."""

    listed: dict[str, Listed] = field(default_factory=dict)
    read: list[str] = field(default_factory=list)

    def summaries(self, indicators: Sequence[Indicator]) -> list[Summary]:
        """Count, first and last seen per indicator over the listed objects."""
        out = [Summary(i) for i in indicators]
        firsts: dict[int, int] = {}
        lasts: dict[int, int] = {}
        for found in self.listed.values():
            for ord_, n in found.count.items():
                out[ord_].count += n
                firsts[ord_] = min(firsts.get(ord_, found.first[ord_]), found.first[ord_])
                lasts[ord_] = max(lasts.get(ord_, found.last[ord_]), found.last[ord_])
        for ord_, summary in enumerate(out):
            if summary.count:
                summary.first_seen, summary.last_seen = rfc3339(firsts[ord_]), rfc3339(lasts[ord_])
        return out


FOUND = """
SELECT filename, h, key, len(lines), first, last
FROM read_parquet(string_split($files, chr(10)), filename = true)
WHERE {where}
"""
LINES = """
SELECT filename, key, lines FROM read_parquet(string_split($files, chr(10)), filename = true)
WHERE {where}
"""


def plan(
    db: duckdb.DuckDBPyConnection,
    files: Sequence[str],
    wanted: Sequence[Lookup],
    since_us: int,
    until_us: int,
) -> Plan:
    """Sort index `files` into listed objects and objects to read, for the lookups
    `wanted` (in the order of the search's indicators); raises `duckdb.Error`."""
    out = Plan()
    if not files:
        return out
    by_h, by_key = _where(wanted)
    either: Query = (by_h[0] + by_key[0], {**by_h[1], **by_key[1]})
    hits: dict[str, set[int]] = {}
    lists: dict[str, dict[str, tuple[int, int, int]]] = {}
    rows = _rows(db, FOUND, either, files)
    for name, h, key, n, first, last in rows:
        if key is None:
            hits.setdefault(name, set()).add(h)
        else:
            lists.setdefault(name, {})[key] = (n, first, last)
    shared: list[str] = []
    for name in sorted(hits):
        found = _listed(wanted, hits[name], lists.get(name, {}))
        if found is None or not found.within(since_us, until_us):
            out.read.append(name)
            continue
        if sum(len(k) for k in found.keys.values()) > 1:
            shared.append(name)
        out.listed[name] = found
    for name, held in held_lines(db, shared, wanted).items():
        _count_union(out.listed[name], held)
    return out


def held_lines(
    db: duckdb.DuckDBPyConnection, names: Sequence[str], wanted: Sequence[Lookup]
) -> dict[str, dict[str, list[int]]]:
    """Per index file of `names`: each listed key looked up, and its lines."""
    out: dict[str, dict[str, list[int]]] = {name: {} for name in names}
    for name, key, lines in _rows(db, LINES, _where(wanted)[1], names):
        out[name][key] = lines
    return out


def lines(found: Listed, held: dict[str, list[int]]) -> dict[int, list[int]]:
    """Per indicator (position) of one listed object, the ascending lines holding it."""
    out: dict[int, list[int]] = {}
    for ord_, keys in found.keys.items():
        lists = [held.get(key, []) for key in keys]
        out[ord_] = lists[0] if len(lists) == 1 else sorted(set().union(*lists))
    return out


def _where(wanted: Sequence[Lookup]) -> tuple[Query, Query]:
    """SQL conditions with their parameters: on the fingerprint, and on the listed key."""
    by_h: Query = ([], {})
    by_key: Query = ([], {})
    for n, look in enumerate(wanted):
        for m, key in enumerate(look.keys):
            by_h[0].append(f"h = $f{n}_{m}")
            by_h[1][f"f{n}_{m}"] = fingerprint(key)
            by_key[0].append(f"key = $k{n}_{m}")
            by_key[1][f"k{n}_{m}"] = key
        if look.low:
            by_h[0].append(f"h BETWEEN $fl{n} AND $fh{n}")
            low, high = bounds(look.low, look.high)
            by_h[1].update({f"fl{n}": low, f"fh{n}": high})
            by_key[0].append(f"key BETWEEN $kl{n} AND $kh{n}")
            by_key[1].update({f"kl{n}": look.low, f"kh{n}": look.high})
    return by_h, by_key


def _rows(
    db: duckdb.DuckDBPyConnection, sql: str, query: Query, files: Sequence[str]
) -> Iterator[tuple[Any, ...]]:
    """The rows of `sql` over index `files`, `CHUNK` files a query; over S3 in parts of
    at most `CHUNK` read side by side (`parallel`: each file is a HEAD and a few GETs)."""
    side_by_side = parallel.remote(files[0] if files else "")
    size = min(CHUNK, -(-len(files) // parallel.WORKERS)) if side_by_side else CHUNK
    chunks = [files[i : i + size] for i in range(0, len(files), max(size, 1))]
    for rows in parallel.each(
        db, chunks, lambda c, chunk: _run(c, sql, query, chunk), side_by_side
    ):
        yield from rows


def _run(
    db: duckdb.DuckDBPyConnection, sql: str, query: Query, files: Sequence[str]
) -> list[tuple[Any, ...]]:
    """`files` go as one string: DuckDB's Python client tries to import pandas for every
    value it is handed, ~60 µs each when pandas is not installed."""
    conditions, params = query
    return db.execute(
        sql.format(where=" OR ".join(conditions)), {**params, "files": "\n".join(files)}
    ).fetchall()


def _listed(
    wanted: Sequence[Lookup], hits: set[int], lists: dict[str, tuple[int, int, int]]
) -> Listed | None:
    """One object's matches from its lists, or None when a hit has no list."""
    found = Listed()
    for ord_, look in enumerate(wanted):
        keys = [k for k in look.keys if k in lists or fingerprint(k) in hits]
        if look.low:
            low, high = bounds(look.low, look.high)
            inside = [h for h in hits if low <= h <= high]
            if inside and not look.low.startswith("ip4:"):
                return None
            keys += [f"ip4:{h & _IP4_MASK:08x}" for h in inside]
        if any(k not in lists for k in keys):
            return None
        if keys:
            found.keys[ord_] = keys = sorted(set(keys))
            found.count[ord_] = found.rows = lists[keys[0]][0]
            found.first[ord_] = min(lists[k][1] for k in keys)
            found.last[ord_] = max(lists[k][2] for k in keys)
    return found


def _count_union(found: Listed, held: dict[str, list[int]]) -> None:
    """Counts where several keys are listed: each indicator's lines once (a line holding
    two of its keys is one row), and the lines holding any indicator once."""
    every: set[int] = set()
    for ord_, mine in lines(found, held).items():
        found.count[ord_] = len(mine)
        every.update(mine)
    found.rows = len(every)
