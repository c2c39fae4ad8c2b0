"""Every key of a landed object at once: `keys.row_keys` over its rows, without parsing.

Parsing each row and walking every value in Python cost ~50 µs a row for the index,
twice landing the row. Two paths give the same table (`tests/test_object_keys.py` and
`tests/test_keyscan.py` hold both to `keys.row_keys`, object by object):

- the native scan (`_keyscan.c`, built by setup.py): one pass over the object's bytes in
  C reads each line as orjson writes it, skips the values that provably give no key,
  keys the commonest shapes itself (Slack ids, IPv4, dotted names, plain emails, ASCII
  user names: each what `keys.value_keys` gives, as `shapes` decides them with Arrow),
  asks `keys.value_keys` for any other value once (remembered), and groups the (key,
  line) pairs; a line it cannot read exactly is parsed and walked here (`_walked`).
  ~1.6 µs a row, against ~12 for the arrays path: the arrays spent most of their time
  in general kernels over every value string (cutting them out, encoding, ~15 shape
  kernels, grouping), where a byte loop decides a value as it reads it (docs/benchmarks.md,
  "Index build CPU: one native pass");
- the arrays path, when the extension is not built: `tokens.scan` finds the object's
  strings without parsing, Arrow encodes them as distinct values, `shapes.shaped`
  decides the common shapes with Arrow kernels and the Python rules (`keys.value_keys`,
  the one definition) the rest, once a distinct value (remembered across objects), and
  numpy turns the answers into (line, key) pairs and groups them. Lines `tokens.scan`
  cannot read are parsed and walked as before.

The key rules were also written out in DuckDB SQL (RE2 and string functions, the values
it could not decide sent to Python): it gave the same keys but cost more than the Python
walk (~60 µs a row; ~0.4 µs a regular expression a value and ~1 ms a query), so it
is not used.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from connector.indicators import keys, shapes, tokens
from connector.indicators.keys import micros

if TYPE_CHECKING:
    from connector.indicators._keyscan import Scanner

log = logging.getLogger(__name__)

SCHEMA = pa.schema(
    [
        ("key", pa.string()),
        ("lines", pa.list_(pa.int32())),
        ("first", pa.int64()),
        ("last", pa.int64()),
    ]
)
NO_TIME = np.iinfo(np.int64).min


WHOLE_SECOND = (
    "^(?:[1-9][0-9]{3}|0[1-9][0-9]{2}|00[1-9][0-9]|000[1-9])-[0-9]{2}-[0-9]{2}"
    "T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]Z$"
)
"""An event time as `clock.rfc3339` writes a whole second: read with arrays when the day
exists; any other spelling goes to Python."""


def object_keys(ndjson: bytes, native: bool = True) -> pa.Table:
    """`key`, `lines` (ascending), `first` and `last` (event time, µs) of every key the
    object's lines with an event time hold, in no particular order (`native`: by the
    extension when it is built, else with arrays)."""
    scanned = _scanned(ndjson) if native else None
    if scanned is not None:
        return scanned[1]
    pairs = _pairs(ndjson)
    if pairs is None:
        every = ndjson.splitlines()
        return _parsed(every, range(len(every)))
    return _grouped(*pairs)


def key_rows(ndjson: bytes, native: bool = True) -> pa.Table:
    """`key`, `line` and `time` (µs): one row per distinct (key, line) of the object's
    lines with an event time, ordered by key id then line (the same keys as
    `object_keys`, one row per line instead of a list per key)."""
    scanned = _scanned(ndjson) if native else None
    if scanned is not None:
        times, table = scanned
        lists = table.column("lines").combine_chunks()
        line = np.asarray(lists.values)
        each = np.repeat(np.arange(table.num_rows), np.asarray(lists.value_lengths()))
        return pa.table({"key": table.column("key").take(each), "line": line, "time": times[line]})
    pairs = _pairs(ndjson)
    if pairs is None:
        every = ndjson.splitlines()
        walked = ((n, _walked(line)) for n, line in enumerate(every))
        rows = [(k, n, w[0]) for n, w in walked if w is not None for k in sorted(w[1])]
        return pa.table(
            {
                "key": pa.array([r[0] for r in rows], pa.string()),
                "line": pa.array([r[1] for r in rows], pa.int32()),
                "time": pa.array([r[2] for r in rows], pa.int64()),
            }
        )
    line, key, names, times = pairs
    code, size = _codes(line, key, times)
    line = (code % size).astype(np.int32)
    return pa.table({"key": names.take(pa.array(code // size)), "line": line, "time": times[line]})


def _scanned(ndjson: bytes, scanner: Scanner | None = None) -> tuple[Any, pa.Table] | None:
    """Each line's event time and the key table, by the extension (`_keyscan`, this
    `scanner` or the shared one); None when it is not built or the object is for the
    parser (as `tokens.scan`'s None)."""
    if scanner is None:
        if _SCANNER is None:
            return None
        with _SCANNING:
            found = _SCANNER.scan(ndjson)
    else:
        found = scanner.scan(ndjson)
    if found is None:
        return None
    times, key_offsets, key_text, offsets, lines, first, last = found
    count = len(key_offsets) // 4 - 1
    int32 = pa.int32()
    table = pa.table(
        {
            "key": pa.StringArray.from_buffers(
                count, pa.py_buffer(key_offsets), pa.py_buffer(key_text)
            ),
            "lines": pa.ListArray.from_arrays(
                pa.Array.from_buffers(int32, count + 1, [None, pa.py_buffer(offsets)]),
                pa.Array.from_buffers(int32, len(lines) // 4, [None, pa.py_buffer(lines)]),
            ),
            "first": np.frombuffer(first, np.int64),
            "last": np.frombuffer(last, np.int64),
        },
        schema=SCHEMA,
    )
    return np.frombuffer(times, np.int64), table


def _pairs(ndjson: bytes) -> tuple[Any, Any, pa.Array, Any] | None:
    """Every (line, key id) pair of the object, the keys by id, and each line's event
    time; None when `tokens.scan` cannot read the object (then each row is walked)."""
    found = tokens.scan(ndjson)
    if found is None:
        return None
    times = _times(found)
    value_lines, value_of, value_keys = _distinct(found.values, _values_keys)
    name_lines, name_of, name_keys = _distinct(found.names, _names_keys)
    parsed: list[tuple[int, str]] = []
    if found.parse:
        lines = ndjson.splitlines()
        for number in found.parse:
            walked = _walked(lines[number])
            if walked is not None:
                times[number] = walked[0]
                parsed.extend((number, key) for key in walked[1])
    coded = pc.dictionary_encode(
        pa.concat_arrays([value_keys, name_keys, pa.array([k for _, k in parsed], pa.string())])
    )
    ids = np.asarray(coded.indices).astype(np.int64)
    cut = (len(value_keys), len(value_keys) + len(name_keys))
    pairs = [
        _occurrences(value_lines, value_of, ids[: cut[0]]),
        _occurrences(name_lines, name_of, ids[cut[0] : cut[1]]),
        np.array([[n for n, _ in parsed], ids[cut[1] :]], np.int64).reshape(2, -1),
    ]
    line, key = np.concatenate(pairs, axis=1)
    return line, key, coded.dictionary, times


def _times(found: tokens.Tokens) -> Any:
    """Each line's event time (µs), or NO_TIME."""
    times = np.full(found.count, NO_TIME, np.int64)
    text = found.times.values
    done, whole_us = _whole_seconds(text)
    times[found.times.lines[done]] = whole_us
    for at in np.flatnonzero(~done).tolist():
        when = micros(text[at].as_py())
        if when is not None:
            times[found.times.lines[at]] = when
    return times


def _whole_seconds(text: pa.Array) -> tuple[Any, Any]:
    """Which times are `WHOLE_SECOND` on a day that exists, and those as µs since the
    epoch (days from the civil date as in H. Hinnant's `days_from_civil`)."""
    done = pc.match_substring_regex(text, WHOLE_SECOND).to_numpy(zero_copy_only=False)
    every = np.frombuffer(text.buffers()[1] or bytes(4), np.int32)
    offsets = every[text.offset : text.offset + len(text)]
    data = np.frombuffer(text.buffers()[2] or b"\0", np.uint8)
    digits = data[offsets[done][:, None] + np.arange(19)].astype(np.int64) - ord("0")

    def number(first: int, stop: int) -> Any:
        return digits[:, first:stop] @ (10 ** np.arange(stop - first - 1, -1, -1))

    year, month, day = number(0, 4), number(5, 7), number(8, 10)
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    longest = _MONTH_DAYS[np.clip(month, 0, 12)] + ((month == 2) & leap)
    exists = (month >= 1) & (month <= 12) & (day >= 1) & (day <= longest)
    shifted = year - (month <= 2)
    era, of_era = shifted // 400, shifted % 400
    of_year = (153 * ((month + 9) % 12) + 2) // 5 + day - 1
    days = era * 146097 + of_era * 365 + of_era // 4 - of_era // 100 + of_year - 719468
    seconds = days * 86400 + number(11, 13) * 3600 + number(14, 16) * 60 + number(17, 19)
    done[done] = exists
    return done, seconds[exists] * 1_000_000


_MONTH_DAYS = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], np.int64)


def _distinct(
    strings: tokens.Strings, rule: Callable[[pa.Array], tuple[Any, pa.Array]]
) -> tuple[Any, Any, pa.Array]:
    """Each string's line and index among the distinct strings, and the keys of the
    distinct strings (`rule`: which distinct string each key is of, and the keys)."""
    coded = pc.dictionary_encode(strings.values)
    of, found = rule(coded.dictionary)
    return np.stack((strings.lines, np.asarray(coded.indices))).astype(np.int64), of, found


def _values_keys(values: pa.Array) -> tuple[Any, pa.Array]:
    shaped = shapes.shaped(values)
    of, found = [], []
    for at, value in zip(
        shaped.rest.tolist(), values.take(pa.array(shaped.rest)).to_pylist(), strict=True
    ):
        for key in keys.remembered(value):
            of.append(at)
            found.append(key)
    return (
        np.concatenate((shaped.of, np.asarray(of, np.int64))),
        pa.concat_arrays([shaped.keys, pa.array(found, pa.string())]),
    )


def _names_keys(names: pa.Array) -> tuple[Any, pa.Array]:
    return np.arange(len(names), dtype=np.int64), pa.array(
        [keys.username_key(n) for n in names.to_pylist()], pa.string()
    )


def _occurrences(held: Any, of: Any, ids: Any) -> Any:
    """(line, key id) for every string (`held`: line, distinct index) and every key of
    its distinct value (`of`: distinct index of each key, `ids`: its key id)."""
    order = np.argsort(of, kind="stable")
    counts = np.bincount(of, minlength=int(held[1].max(initial=-1)) + 1)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.int64)
    each = counts[held[1]] if len(counts) else np.zeros(0, np.int64)
    at = np.repeat(starts[held[1]] - np.concatenate(([0], np.cumsum(each)[:-1])), each)
    at += np.arange(len(at), dtype=np.int64)
    return np.stack((np.repeat(held[0], each), ids[order][at]))


def _grouped(line: Any, key: Any, names: pa.Array, times: Any) -> pa.Table:
    """The key table from (line, key id) pairs, without lines that have no event time."""
    code, size = _codes(line, key, times)
    key, line = code // size, (code % size).astype(np.int32)
    starts = np.flatnonzero(np.diff(key, prepend=-1)).astype(np.int64)
    offsets = np.concatenate((starts, [len(code)])).astype(np.int32)
    when = times[line]
    empty = not len(code)
    return pa.table(
        {
            "key": names.take(pa.array(key[starts])),
            "lines": pa.ListArray.from_arrays(pa.array(offsets), pa.array(line)),
            "first": when if empty else np.minimum.reduceat(when, starts),
            "last": when if empty else np.maximum.reduceat(when, starts),
        },
        schema=SCHEMA,
    )


def _codes(line: Any, key: Any, times: Any) -> tuple[Any, int]:
    """The distinct (key id, line) pairs of lines with an event time, as sorted codes
    `key * size + line`, and `size`."""
    size = max(len(times), 1)
    held = times[line] != NO_TIME
    return np.unique(key[held] * size + line[held]), size


def _parsed(lines: list[bytes], numbers: Iterable[int]) -> pa.Table:
    """The Python rule over whole lines: `keys.row_keys` of each parsed row."""
    held: dict[str, list[int]] = {}
    times: dict[int, int] = {}
    for number in numbers:
        walked = _walked(lines[number])
        if walked is None:
            continue
        times[number] = walked[0]
        for key in walked[1]:
            held.setdefault(key, []).append(number)
    return pa.table(
        {
            "key": list(held),
            "lines": list(held.values()),
            "first": [min(times[n] for n in ns) for ns in held.values()],
            "last": [max(times[n] for n in ns) for ns in held.values()],
        },
        schema=SCHEMA,
    )


def _walked(line: bytes) -> tuple[int, set[str]] | None:
    """One row parsed and walked by the Python rule: its event time (µs) and
    `keys.row_keys`, or None when it has no event time (then it is in no window)."""
    row = orjson.loads(line)
    when = micros(row.get("p_event_time"))
    return None if when is None else (when, keys.row_keys(row))


def native(limit: int = keys.CACHE_MAX) -> Scanner | None:
    """A scanner of the extension over the Python rules, remembering up to `limit`
    values with their keys (those its shapes do not decide: ~20,000 in a month of
    40,000 users' audit rows), or None when the extension is not built."""
    try:
        from connector.indicators._keyscan import Scanner
    except ImportError:
        return None
    return Scanner(keys.value_keys, keys.username_key, micros, _walked, limit)


_SCANNER = native()
if _SCANNER is None:
    log.info("the native key scan is not built: the search index is built with arrays")
_SCANNING = threading.Lock()
"""The scanner's caches are shared: one object at a time (its Python rules could let
another thread in mid-object)."""
