"""A day's compacted index: one sorted Parquet file for the objects of a partition-day.

A per-object index (`search.index`) is cheap to write as an object lands, but a month
has a thousand of them: every lookup opens them all, and a key held by one row of an
object has only a fingerprint there, so each such object is read and scanned. Once a
day's objects have landed, `slack-connector index --compact` writes one file for the
day (per log type) that holds every key's text once, with its exact postings:

- one row per key (`indicators.keys.row_keys`, found by `indicators.object_keys`, the
  same rule as the per-object index), sorted by key, so DuckDB's row-group min/max
  statistics skip all but the row group that can hold a key looked up (an IP range is a
  key range);
- `n`, `first`, `last`: how many rows hold it, its first and last event time (µs), read
  without touching the lists for a key in `FIRST_LAST` rows or more (null for fewer: a
  search takes them from the ends of their lists, which are short; most keys are such,
  and their two times were a sixth of the file);
- `obj`, `line`, `sec`, `us`: one element per row holding it, in time order: the
  object (its position in the covered list), the line, and the event time as whole
  seconds plus microseconds (the seconds' deltas pack into a few bits a row).

Counts, first and last seen come from `n`/`first`/`last` (or, at a window's edge or
where two keys can name one row, from the postings); the newest rows shown are picked
from the postings and only their objects are read.

Which objects a file covers is in its metadata (`objects`, keys under the output
prefix, sorted), and its name is derived from that set: `day-{count}-{digest}`. Writers
that cover the same objects write the same key with the same bytes, so replicas or a
rerun racing cannot produce two answers; a search takes, per day, the file covering the
most objects (ties: the greatest name) whose objects all exist (`choose`); objects it
does not cover keep their per-object index or the scan.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import re
from collections.abc import Callable, Sequence
from typing import Any

import duckdb

from connector.search.index import INDEX

VERSION = "2"
"""1: `first`/`last` for every key in two rows or more, zstd level 3, every column
delta-encoded; 2: `FIRST_LAST`, the encodings and level of `write` (0.67 of version 1's
bytes, docs/benchmarks.md "Index bytes after gc"). A search lists only its own version's
files; `index --compact` writes the current one for every day and then deletes the old."""
SUFFIX = f".c{VERSION}.parquet"
META = "slack_connector_compact"
ROW_GROUP = 2048
"""Keys a row group: a lookup decodes the `key` column of the one group its statistics
admit (a day holds ~100,000-300,000 keys at 10M rows a month)."""
FIRST_LAST = 16
"""Keys held by fewer rows have no `first`/`last`: the ends of their lists are both. On a
day of 333,000 audit rows (223,000 keys, most in 8-63 rows) the file is 0.79, 0.76, 0.67
and 0.67 of `.c1`'s bytes with 2, 8, 16 and 64 here."""
LEVEL = 15
"""zstd level: 0.87 of level 3's bytes; reading is as fast, writing ~3x slower (~2 CPU s
for a day of 333,000 audit rows, off the ingest path)."""
_DAY = re.compile(r"^([^/]+/year=\d{1,4}/month=\d{1,2}/day=\d{1,2})/")


def day_of(data: str) -> str | None:
    """A data object's partition-day (`Slack.AuditLogs/year=2026/month=12/day=7`), from
    its key under the output prefix; None without a day partition."""
    found = _DAY.match(data)
    return found.group(1) if found else None


def name(day: str, objects: Sequence[str]) -> str:
    """The compacted file's key under the output prefix, derived from what it covers."""
    digest = hashlib.sha256("\n".join(sorted(objects)).encode()).hexdigest()[:16]
    return f"{INDEX}/{day}/day-{len(objects):06d}-{digest}{SUFFIX}"


@functools.cache
def schema() -> Any:
    import pyarrow as pa

    return pa.schema(
        [
            ("key", pa.string()),
            ("n", pa.int64()),
            ("first", pa.int64()),
            ("last", pa.int64()),
            ("obj", pa.list_(pa.int32())),
            ("line", pa.list_(pa.int32())),
            ("sec", pa.list_(pa.int64())),
            ("us", pa.list_(pa.int32())),
        ]
    )


def build(objects: Sequence[str], read: Callable[[str], bytes]) -> bytes:
    """The compacted index of `objects` (keys under the prefix, one day's), whose NDJSON
    bodies `read` gives, one at a time (a day's bodies together would be ~0.5 GB); a pure
    function of them: the same objects give the same bytes in any order."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    from connector.indicators.object_keys import key_rows

    names = sorted(objects)
    if len(set(names)) != len(names):
        raise ValueError("an object is given twice")
    parts = [_no_rows()]
    for n, name in enumerate(names):
        rows = key_rows(read(name))
        parts.append(rows.append_column("obj", pa.array(np.full(rows.num_rows, n, np.int32))))
    table = pa.concat_tables(parts)
    coded = pc.dictionary_encode(table.column("key").combine_chunks())
    by_text = pc.sort_indices(coded.dictionary)
    rank = np.empty(len(coded.dictionary), np.int64)
    rank[np.asarray(by_text)] = np.arange(len(coded.dictionary))
    key = rank[np.asarray(coded.indices)]
    obj = np.asarray(table.column("obj").combine_chunks())
    line = np.asarray(table.column("line").combine_chunks())
    when = np.asarray(table.column("time").combine_chunks())
    order = np.lexsort((line, obj, when, key))
    key, obj, line, when = key[order], obj[order], line[order], when[order]
    starts = np.flatnonzero(np.diff(key, prepend=-1)).astype(np.int64)
    offsets = pa.array(np.append(starts, len(key)).astype(np.int32))
    ends = np.append(starts[1:], len(key)) if len(starts) else starts
    counts = ends - starts
    short = counts < FIRST_LAST
    sec, us = np.divmod(when, 1_000_000)
    out = pa.table(
        {
            "key": coded.dictionary.take(by_text).take(pa.array(key[starts])),
            "n": counts,
            "first": pa.array(when[starts], mask=short),
            "last": pa.array(when[ends - 1], mask=short),
            "obj": pa.ListArray.from_arrays(offsets, pa.array(obj, pa.int32())),
            "line": pa.ListArray.from_arrays(offsets, pa.array(line, pa.int32())),
            "sec": pa.ListArray.from_arrays(offsets, pa.array(sec, pa.int64())),
            "us": pa.ListArray.from_arrays(offsets, pa.array(us.astype(np.int32), pa.int32())),
        },
        schema=schema().with_metadata({META: json.dumps({"version": VERSION, "objects": names})}),
    )
    return write(out)


def write(table: Any) -> bytes:
    """The Parquet bytes of a day's table. Measured on a day of 333,000 audit rows
    (docs/benchmarks.md): sorted keys share prefixes (`DELTA_BYTE_ARRAY`, -25 % on
    them); an object's number repeats within a key's list, which zstd finds in `PLAIN`
    bytes better than in delta bit-packing (-40 %); lines, times and counts are
    delta-packed."""
    import pyarrow.parquet as pq

    sink = io.BytesIO()
    delta = "DELTA_BINARY_PACKED"
    pq.write_table(
        table,
        sink,
        compression="zstd",
        compression_level=LEVEL,
        row_group_size=ROW_GROUP,
        use_dictionary=False,
        write_statistics=["key"],
        column_encoding={
            "key": "DELTA_BYTE_ARRAY",
            "n": delta,
            "first": delta,
            "last": delta,
            "obj.list.element": "PLAIN",
            **{f"{c}.list.element": delta for c in ("line", "sec", "us")},
        },
    )
    return sink.getvalue()


def _no_rows() -> Any:
    """An empty table of `object_keys.key_rows` with the object column."""
    import pyarrow as pa

    return pa.table(
        {
            "key": pa.array([], pa.string()),
            "line": pa.array([], pa.int32()),
            "time": pa.array([], pa.int64()),
            "obj": pa.array([], pa.int32()),
        }
    )


def todo(days: dict[str, list[str]], today: str) -> list[tuple[str, list[str]]]:
    """The days (of `Searcher.days`) to compact, oldest first: those before `today`
    (`YYYY-MM-DD`, UTC) whose objects no compacted file covers yet, with their objects."""
    out = []
    for day, objects in sorted(days.items()):
        if day.endswith("/") or _date(day) >= today:
            continue
        if name(day, objects) not in days.get(day + "/", []):
            out.append((day, objects))
    return out


def _date(day: str) -> str:
    year, month, date = (int(part.split("=")[1]) for part in day.split("/")[1:4])
    return f"{year:04d}-{month:02d}-{date:02d}"


COVERED = "SELECT file_name, value FROM parquet_kv_metadata(?) WHERE key = ?"


def covered(db: duckdb.DuckDBPyConnection, files: Sequence[str]) -> dict[str, list[str]]:
    """Per compacted file, the objects it covers (keys under the output prefix, in the
    order its `obj` numbers them); raises `duckdb.Error`."""
    out: dict[str, list[str]] = {}
    if not files:
        return out
    for file, value in db.execute(COVERED, [list(files), META]).fetchall():
        meta = json.loads(bytes(value))
        if meta.get("version") == VERSION:
            out[file] = list(meta["objects"])
    return out


def choose(
    db: duckdb.DuckDBPyConnection, files: Sequence[str], present: set[str], root: str
) -> dict[str, list[str]]:
    """Per partition-day, the compacted file a search uses, with the full paths of the
    objects it covers (by position): the one covering the most objects, ties to the
    greatest name, among those whose objects are all in `present` (paths under `root`),
    so a file naming an object that is gone is never used."""
    by_day: dict[str, list[str]] = {}
    for file in files:
        by_day.setdefault(file.rsplit("/", 1)[0], []).append(file)
    candidates = {day: sorted(names, key=_rank, reverse=True) for day, names in by_day.items()}
    objects = covered(db, [f for names in candidates.values() for f in names])
    out: dict[str, list[str]] = {}
    for names in candidates.values():
        for file in names:
            paths = [f"{root}/{key}" for key in objects.get(file, ())]
            if paths and all(p in present for p in paths):
                out[file] = paths
                break
    return out


def _rank(file: str) -> tuple[int, str]:
    base = file.rsplit("/", 1)[-1]
    count = base.split("-")[1] if base.count("-") >= 2 else "0"
    return int(count) if count.isdigit() else 0, base
