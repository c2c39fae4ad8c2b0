"""The search index of one landed object: a small Parquet file beside it.

One index per data object, a pure function of the object's lines, so it can be written
right after the object under the same unit of work and rebuilt from the object alone
(`connector.ingest.derived`, `slack-connector index`). Its key mirrors the object's under
`_index/`: `slack/Slack.AuditLogs/year=.../x.json.gz` is indexed by
`slack/_index/Slack.AuditLogs/year=.../x.v3.parquet`, out of the folders a SIEM's table
reads. The format's version is in the name, so a search lists only indexes it can read:
an object whose index has another version is unindexed (scanned) until
`slack-connector index` writes the current one.

Only rows with an event time are indexed (a row without one is in no window). Two kinds
of rows in one table:

- a *fingerprint* per distinct fingerprint of the object's keys (`h`, sorted, delta
  encoded): `fingerprints` of each `indicators.keys` key. An object whose fingerprints
  miss every key looked up holds no match and is never read;
- a *posting list* per key held by at least `HELD` rows: `key`, the ascending `lines`
  (0-based line numbers) that hold it, and their `first` and `last` event time
  (microseconds). Such a key's count, first and last seen come from the index alone,
  and its rows are read by line number.

A key in one row of an object has a fingerprint but no list: the object is read and its
rows checked with `Indicator.matches` (the scan, on this one object). So are fingerprint
collisions: every count stays exact, a collision only costs a read.

Why this shape (measured on 1M audit rows, docs/benchmarks.md "Indexed search"): an
object's keys are mostly one-off (a user's id, name, email and IP recur across objects,
not within one: ~6,600 distinct keys in 1,389 rows, 23 of them in two rows or more), so
their text is most of a row's entropy; a posting row per (key, line) with its text made
the first version 75 % of the data's bytes; a 24-bit fingerprint per key takes 8 %.
"""

from __future__ import annotations

import functools
import zlib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from connector.indicators.keys import EPOCH as EPOCH
from connector.indicators.keys import MICRO as MICRO
from connector.indicators.keys import micros as micros

if TYPE_CHECKING:
    from connector.ingest.derived import DerivedObject
    from connector.sinks.base import Sink

INDEX = "_index"
VERSION = "3"
"""1: postings, stats and facets per object; 2: fingerprints and lists, a single IPv6
address looked up by its first 32 bits (in main for an hour of issue 24); 3: by its hash."""
SUFFIX = f".v{VERSION}.parquet"
DATA_SUFFIX = ".json.gz"
HELD = 2
"""Keys held by this many rows of an object or more get a posting list."""
HASH_BITS = 24
"""Bits of a hashed key's fingerprint: ~5,000 hashed keys an object give a looked-up key
a 3e-4 chance to collide in an object (a needless read), at 1.5 bytes a key."""
_IP4, _IP6, _HASHED = 1 << 32, 2 << 32, 3 << 32


@functools.cache
def schema() -> Any:
    """The Parquet schema; pyarrow is imported only to write (a search never needs it)."""
    import pyarrow as pa

    return pa.schema(
        [
            ("h", pa.int64()),
            ("key", pa.string()),
            ("lines", pa.list_(pa.int32())),
            ("first", pa.int64()),
            ("last", pa.int64()),
        ],
        metadata={"slack_connector_index": VERSION},
    )


def fingerprint(key: str) -> int:
    """What a key is looked up by: an IPv4 address itself (so an IPv4 range is a range of
    fingerprints), any other key's 24-bit CRC-32."""
    kind, _, rest = key.partition(":")
    if kind == "ip4":
        return _IP4 | int(rest, 16)
    return _HASHED | (zlib.crc32(key.encode()) >> (32 - HASH_BITS))


def fingerprints(key: str) -> tuple[int, ...]:
    """A key's fingerprints in the index: `fingerprint`, and for an IPv6 address also its
    first 32 bits, which an IPv6 range is looked up by (a single address by its hash: an
    organisation's addresses share their first 32 bits)."""
    if key.startswith("ip6:"):
        return fingerprint(key), _IP6 | int(key[4:12], 16)
    return (fingerprint(key),)


def bounds(low: str, high: str) -> tuple[int, int]:
    """The fingerprints an address range's keys `low`..`high` lie between."""
    if low.startswith("ip6:"):
        return _IP6 | int(low[4:12], 16), _IP6 | int(high[4:12], 16)
    return fingerprint(low), fingerprint(high)


def index_key(data_key: str, prefix: str) -> str | None:
    """Where the index of a data object lives, or None for an object that has none (a
    quarantine object, or one outside the output prefix)."""
    head = f"{prefix}/" if prefix else ""
    if not data_key.startswith(head) or not data_key.endswith(DATA_SUFFIX):
        return None
    rest = data_key[len(head) :]
    if rest.startswith(("_quarantine/", f"{INDEX}/")):
        return None
    return f"{head}{INDEX}/{rest[: -len(DATA_SUFFIX)]}{SUFFIX}"


def data_key(index: str, prefix: str) -> str:
    """The data object an index key belongs to (the inverse of `index_key`)."""
    head = f"{prefix}/" if prefix else ""
    rest = index[len(head) :].removeprefix(f"{INDEX}/")
    return f"{head}{rest[: -len(SUFFIX)]}{DATA_SUFFIX}"


class SearchIndex:
    """The index as a derived output (`connector.ingest.derived`): written beside each
    data object under the same unit of work, and remade by recovery when a crash fell
    between them."""

    name = "index"

    def __init__(self, sink: Sink, prefix: str) -> None:
        self.sink = sink
        self.prefix = prefix

    def derive(self, key: str, ndjson: bytes) -> Iterable[DerivedObject]:
        where = index_key(key, self.prefix)
        if where is None:
            return
        from connector.ingest.derived import DerivedObject  # the writer's: search reads

        rows = line_count(ndjson)
        yield DerivedObject(self.sink, where, build_object(ndjson), {"indexed_rows": rows})


def line_count(ndjson: bytes) -> int:
    """`len(ndjson.splitlines())` without making the lines (that cost 0.7 µs a row, a
    seventh of the index's build): newlines counted, unless a carriage return makes it
    split there too."""
    if b"\r" in ndjson:
        return len(ndjson.splitlines())
    count = _native("count_lines")
    newlines = count(ndjson) if count is not None else ndjson.count(b"\n")
    return int(newlines) + (not ndjson.endswith(b"\n") and bool(ndjson))


def build(lines: Iterable[bytes]) -> bytes:
    """The index of an object whose rows are `lines` (JSON objects, in object order)."""
    joined = b"\n".join(lines)
    return build_object(joined + b"\n" if joined else b"")


def build_object(ndjson: bytes) -> bytes:
    """The index of an object (its NDJSON body): `indicators.keys.row_keys` of every row
    with an event time, found by `indicators.object_keys` without walking rows in Python."""
    from connector.indicators.object_keys import object_keys

    return _write(object_keys(ndjson))


def _fingerprints(keys: Any, native: bool = True) -> Any:
    """`fingerprints` of every key of an Arrow string array, sorted and distinct: by
    the native extension when it is built (0.8 -> 0.2 µs a row), else with array
    operations (a Python call a key cost 2-3 µs a row)."""
    import numpy as np
    import pyarrow as pa

    width = np.int64 if pa.types.is_large_string(keys.type) else np.int32
    if width is np.int32 and not pa.types.is_string(keys.type):
        keys = keys.cast(pa.string())
    every = np.frombuffer(keys.buffers()[1] or bytes(8), width)
    offsets = every[keys.offset : keys.offset + len(keys) + 1].astype(np.int64)
    data = np.frombuffer(keys.buffers()[2] or b"", np.uint8)
    starts, sizes = offsets[:-1], np.diff(offsets)
    fast = _native("fingerprints") if native else None
    if fast is not None:
        spans = (np.ascontiguousarray(x, np.int64) for x in (starts, sizes))
        found = fast(data, *spans, _IP4, _IP6, _HASHED, HASH_BITS)
        return np.frombuffer(found, np.int64)
    head = data[starts[:, None] + np.arange(4)]
    ip4 = (head == np.frombuffer(b"ip4:", np.uint8)).all(axis=1)
    ip6 = (head == np.frombuffer(b"ip6:", np.uint8)).all(axis=1)
    crc = crc32_many(data, starts[~ip4], sizes[~ip4])
    out = [_HASHED | (crc >> (32 - HASH_BITS)).astype(np.int64)]
    hex_digit = _tables()[1]
    for kind, where in ((_IP4, ip4), (_IP6, ip6)):
        text = data[starts[where][:, None] + 4 + np.arange(8)]
        shift = 4 * np.arange(7, -1, -1, dtype=np.int64)
        out.append(kind | (hex_digit[text].astype(np.int64) << shift).sum(axis=1))
    every = np.sort(np.concatenate(out))
    return every[np.concatenate(([True], every[1:] != every[:-1]))] if len(every) else every


def crc32_many(data: Any, starts: Any, sizes: Any, native: bool = True) -> Any:
    """`zlib.crc32` of each `data[start:start + size]`: by the native extension when it
    is built (a byte at a time in C, ~1.5 µs a row less than the arrays), else with
    arrays: two byte positions of every string at a time (a 65,536-entry table), longest
    first; a string over `LONG` bytes by zlib."""
    import numpy as np

    crc32_native = _native("crc32_many") if native else None
    if crc32_native is not None:
        spans = (np.ascontiguousarray(x, np.int64) for x in (starts, sizes))
        return np.frombuffer(crc32_native(np.ascontiguousarray(data), *spans), np.uint32)

    table, pairs = _tables()[0], _tables()[2]
    order = np.argsort(-sizes, kind="stable")
    start, size = starts[order], sizes[order]
    crc = np.full(len(size), 0xFFFFFFFF, np.uint32)
    for j in range(0, min(int(size.max(initial=0)), LONG), 2):
        two, one = (int(np.searchsorted(-size, -k)) for k in (j + 1, j))
        head = crc[:two]
        at = start[:two] + j
        word = data[at].astype(np.uint32) | (data[at + 1].astype(np.uint32) << 8)
        crc[:two] = pairs[(head ^ word) & 0xFFFF] ^ (head >> 16)
        last = crc[two:one]
        crc[two:one] = table[(last ^ data[start[two:one] + j]) & 0xFF] ^ (last >> 8)
    crc ^= 0xFFFFFFFF
    for at in np.flatnonzero(size > LONG).tolist():
        crc[at] = zlib.crc32(data[start[at] : start[at] + size[at]].tobytes())
    out = np.empty_like(crc)
    out[order] = crc
    return out


@functools.cache
def _native(name: str) -> Any:
    """A function of the native extension (`indicators._keyscan`), or None when it is
    not built."""
    try:
        from connector.indicators import _keyscan
    except ImportError:
        return None
    return getattr(_keyscan, name)


LONG = 64
"""Bytes up to which `crc32_many` hashes with arrays; a longer key (a URL) by zlib."""


@functools.cache
def _tables() -> tuple[Any, Any, Any]:
    """CRC-32's byte table (zlib's polynomial, reflected), each byte's hex digit, and the
    table for two bytes at once (`crc = pairs[(crc ^ b0 ^ b1 << 8) & 0xFFFF] ^ crc >> 16`)."""
    import numpy as np

    table = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        table = np.where(table & 1, (table >> 1) ^ 0xEDB88320, table >> 1).astype(np.uint32)
    digit = np.zeros(256, np.int64)
    digit[np.frombuffer(b"0123456789abcdef", np.uint8)] = np.arange(16)
    word = np.arange(65536, dtype=np.uint32)
    low = table[word & 0xFF]
    pairs = table[(low ^ (word >> 8)) & 0xFF] ^ (low >> 8)
    return table, digit, pairs


def _write(table: Any) -> bytes:
    """The Parquet file: a fingerprint row per distinct fingerprint, then a posting list
    row per key held by `HELD` rows or more, in key order. (Arrays made once, of the
    schema's types: a cast or compute call per column cost 0.1 µs a row.)"""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    prints = pa.array(_fingerprints(table.column("key").combine_chunks()), pa.int64())
    held = np.diff(table.column("lines").combine_chunks().offsets.to_numpy()) >= HELD
    listed = table.take(np.flatnonzero(held)).sort_by("key")
    columns = [pa.concat_arrays([prints, pa.nulls(listed.num_rows, pa.int64())])]
    for field in list(schema())[1:]:
        column = listed.column(field.name).combine_chunks()
        columns.append(pa.concat_arrays([pa.nulls(len(prints), field.type), column]))
    sink = pa.BufferOutputStream()
    delta = "DELTA_BINARY_PACKED"
    pq.write_table(
        pa.Table.from_arrays(columns, schema=schema()),
        sink,
        compression="zstd",
        use_dictionary=["key"],
        column_encoding={"h": delta, "lines.list.element": delta, "first": delta, "last": delta},
    )
    return bytes(sink.getvalue())


def rfc3339(us: int) -> str:
    """Microseconds back to the event time as `clock.rfc3339` writes it."""
    when = EPOCH + us * MICRO
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ" if us % 1_000_000 else "%Y-%m-%dT%H:%M:%SZ")
