"""The string values of landed NDJSON lines, found from their quotes instead of parsing.

The arrays path of `object_keys`, used when the native scan (`_keyscan.c`, the same
reading in one C loop, ~6x less CPU) is not built, and the reference the property tests
hold it to.

The index keys every string value of every landed row (`keys.row_keys`). Parsing each row
and walking it in Python cost ~50 µs a row, twice what landing the row costs. The
connector writes its lines with orjson: one compact JSON object a line, where a `"` only
opens or closes a string unless a backslash escapes it. So, in a line without a
backslash, the quotes pair up into strings, found with array operations over the whole
object at once: a string followed by `:` is a member name, any other is a value, and the
braces and brackets outside strings give each string its depth (the top-level
`p_event_time` and `p_any_usernames` are found by it).

A line that does not look like that (a backslash, an empty line, a string not opened
after `{[,:` or not closed before `:,}]`, a non-string top-level event time, a name given
twice) is left to the parser and the Python rule (`Tokens.parse`): it loses only speed.
Lines are taken to be JSON objects without repeated member names, as orjson writes them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

Ints = Any
"""A numpy integer array (numpy's own typing is not worth its noise here)."""

_NL, _CR, _QUOTE, _BACKSLASH, _COLON = 10, 13, 34, 92, 58
_OPENERS = (ord("{"), ord("["), ord(","), ord(":"))
_CLOSERS = (ord(":"), ord(","), ord("}"), ord("]"))
EVENT_TIME = b"p_event_time"
USERNAMES = b"p_any_usernames"


@dataclass
class Strings:
    """Strings of an object (as JSON writes them: no backslash, so also their value) and
    the 0-based line each is on."""

    lines: Ints
    values: pa.StringArray

    @staticmethod
    def empty() -> Strings:
        return Strings(np.zeros(0, np.int32), pa.array([], pa.string()))


@dataclass
class Tokens:
    count: int
    """Lines, as `bytes.splitlines` counts them."""
    parse: list[int] = field(default_factory=list)
    """Lines the arrays cannot read: for the parser and the Python rule."""
    values: Strings = field(default_factory=Strings.empty)
    """Every value string (not a member name). Picking out only those that may give a key
    (a `.`, `:` or `@` inside) cost a pass and a search more than the shapes of the
    plain ones (`shapes`: no key) do."""
    names: Strings = field(default_factory=Strings.empty)
    """Each string element of a line's top-level `p_any_usernames` array."""
    times: Strings = field(default_factory=Strings.empty)
    """Each line's top-level `p_event_time`, when it is a string."""


def scan(ndjson: bytes) -> Tokens | None:
    """The object's strings, or None when the whole object is for the parser (a `\\r`,
    which `splitlines` also splits at, or an empty line, which it cannot parse)."""
    if not ndjson:
        return Tokens(0)
    data = ndjson if ndjson.endswith(b"\n") else ndjson + b"\n"
    buf = np.frombuffer(data + b"\n", np.uint8)
    ends = np.flatnonzero(buf[:-1] == _NL)
    count = len(ends)
    starts = np.concatenate(([0], ends[:-1] + 1))
    if (ends == starts).any() or (buf == _CR).any():
        return None
    bad = (buf[starts] != ord("{")) | (buf[ends - 1] != ord("}"))
    bad[np.searchsorted(ends, np.flatnonzero(buf == _BACKSLASH))] = True

    quotes = np.flatnonzero(buf == _QUOTE)
    per_line = np.diff(np.searchsorted(quotes, ends), prepend=0)
    bad |= per_line % 2 == 1
    if bad.any():
        quotes = quotes[np.repeat(~bad, per_line)]
    opens, closes = quotes[0::2], quotes[1::2]
    line = np.repeat(np.arange(count, dtype=np.int32), np.where(bad, 0, per_line // 2))
    after = buf[closes + 1]
    key = after == _COLON
    odd = ~_any_of(buf[opens - 1], _OPENERS) | ~_any_of(after, _CLOSERS)

    keys = np.flatnonzero(key)
    is_time, is_names = (_named(buf, opens, closes, keys, name) for name in (EVENT_TIME, USERNAMES))
    at = np.flatnonzero(is_time | is_names)
    brackets, level = _brackets(buf, quotes)
    top = np.zeros(len(opens), bool)
    top[at] = _depth(brackets, level, opens[at], starts[line[at]]) == 1
    time_key, names_key = top & is_time, top & is_names
    odd[time_key] |= buf[closes[time_key] + 2] != _QUOTE
    names_key &= buf[closes + 2] == ord("[")
    twice = np.bincount(line[time_key], minlength=count) > 1
    twice |= np.bincount(line[names_key], minlength=count) > 1
    name_at, nested = _elements(buf, brackets, opens, closes, np.flatnonzero(names_key))
    bad |= twice
    bad[line[odd]] = True
    bad[line[nested]] = True

    keep = ~bad[line]
    time_at = np.flatnonzero(time_key & keep) + 1
    name_at = name_at[keep[name_at]]
    value_at = np.flatnonzero(~key & keep)
    return Tokens(
        count,
        np.flatnonzero(bad).tolist(),
        _strings(buf, line, opens, closes, value_at),
        _strings(buf, line, opens, closes, name_at),
        _strings(buf, line, opens, closes, time_at),
    )


def _brackets(buf: Ints, quotes: Ints) -> tuple[Ints, Ints]:
    """Where `{`, `}`, `[` and `]` open or close something (outside strings), and how
    deep the text before each of them (and after the last) is."""
    found = np.flatnonzero(
        (buf == ord("{")) | (buf == ord("}")) | (buf == ord("[")) | (buf == ord("]"))
    )
    found = found[np.searchsorted(quotes, found) % 2 == 0]
    step = np.where((buf[found] == ord("{")) | (buf[found] == ord("[")), 1, -1)
    return found, np.concatenate(([0], np.cumsum(step)))


def _depth(brackets: Ints, level: Ints, at: Ints, begins: Ints) -> Ints:
    """How many objects and arrays the positions `at` are in (1: a member of the row
    itself); `begins` is where the line of each starts."""
    return level[np.searchsorted(brackets, at)] - level[np.searchsorted(brackets, begins)]


def _elements(
    buf: Ints, brackets: Ints, opens: Ints, closes: Ints, names: Ints
) -> tuple[Ints, Ints]:
    """The strings inside the array following each of the strings `names`, and those of
    `names` whose array holds an object or an array (their lines are for the parser)."""
    first = np.searchsorted(brackets, closes[names] + 2)
    end = brackets[np.minimum(first + 1, len(brackets) - 1)]
    nested = names[buf[end] != ord("]")]
    low = np.searchsorted(opens, closes[names] + 2)
    sizes = np.searchsorted(opens, end) - low
    skip = np.repeat(low - np.concatenate(([0], np.cumsum(sizes)[:-1])), sizes)
    return skip + np.arange(sizes.sum(), dtype=np.int64), nested


def _named(buf: Ints, opens: Ints, closes: Ints, among: Ints, name: bytes) -> Ints:
    """Which strings are `name`, looked for `among` these."""
    out = np.zeros(len(opens), bool)
    at = among[(closes[among] - opens[among] - 1) == len(name)]
    text = buf[opens[at, None] + 1 + np.arange(len(name))]
    out[at] = (text == np.frombuffer(name, np.uint8)).all(axis=1)
    return out


def _any_of(chars: Ints, wanted: tuple[int, ...]) -> Ints:
    out = chars == wanted[0]
    for char in wanted[1:]:
        out |= chars == char
    return out


def _strings(buf: Ints, line: Ints, opens: Ints, closes: Ints, at: Ints) -> Strings:
    """The strings `at` (indexes into `opens`/`closes`) as one Arrow array: the buffer is
    read as strings and the gaps between them, without a copy, and the strings taken."""
    bounds = np.empty(2 * len(at) + 1, np.int64)
    bounds[0:-1:2] = opens[at] + 1
    bounds[1::2] = closes[at]
    bounds[-1] = bounds[-2] if len(at) else 0
    spans = pa.Array.from_buffers(
        pa.large_binary(), 2 * len(at), [None, pa.py_buffer(bounds), pa.py_buffer(buf)]
    )
    taken = spans.take(pa.array(np.arange(0, 2 * len(at), 2)))
    return Strings(line[at].astype(np.int32), taken.cast(pa.large_string()).cast(pa.string()))
