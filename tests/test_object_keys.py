"""`object_keys` gives exactly the keys `keys.row_keys` gives, object by object, on both
of its paths: the native scan (`_keyscan`, when built) and the arrays path (strings found
from quotes, common shapes decided by Arrow kernels); every key, the lines holding it and
their first and last event time.

`keys.row_keys` over each parsed row is the definition (the one match rule, held to
`Indicator.matches` by tests/test_search_index.py). Hypothesis writes objects of rows
whose values come in every spelling the rules treat alike or apart, plus arbitrary text
(quotes, backslashes, control characters, Unicode white space and letters), member names
that the fast path looks for at the wrong depth, event times in other spellings, and
lines written with white space or `\\u` escapes (which the fast path leaves to the
parser). The conformance events and the fake Slack's records are checked too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from connector.indicators import keys, shapes
from connector.indicators import object_keys as ok
from connector.indicators.keys import micros
from tests.fakes.slack_server import drift_records
from tests.test_search_index import VALUES

CONFORMANCE = Path("/work/shared/conformance/slack")

TRICKY = st.sampled_from(
    [
        "ana.müller4862@birdland.example",
        "ANA.MÜLLER@Birdland.Example",
        "BIRDLAND.EXAMPLE.",
        "birdland.example..",
        "fatima.li36943",
        "Slack/24.05.10.0 (Pixel 8; Android 14)",
        "1.2.3.04",
        "001.2.3.4",
        "256.1.1.1",
        "0.0.0.0",
        "1.2.3",
        "1.2.3.4.5",
        "::ffff:1.2.3.4",
        "::",
        "fe80::1%eth0",
        "2001:DB8::0:1",
        "a:b",
        "http://[::1]/x",
        "http://[::1",
        "http://v1.x/",
        "a b://c.example",
        "mailto:x@y.example",
        "x:y@z.example",
        "HTTP://User@HOST.Example:8080",
        "https://host.example.:443/p?q#f",
        "https://host.example?q",
        "ftp://ho st.example/",
        "http://",
        "http:///path",
        "://host.example",
        "1http://host.example",
        "https://bücher.example/",
        "x@y.example\u00a0",
        "x\u2003y@z.example",
        " x@y.example",
        "x@y.example ",
        "a@b@c.example",
        "a@b.example.",
        "@b.example",
        "a@.example",
        "first last@x.example",
        "x@y_z.example",
        "x@-y.example",
        "x@" + "a" * 64 + ".example",
        "x@" + "a." * 126 + "example",
        "a." * 126 + "example",
        "W0123ABC",
        "W0123",
        "U1234567",
        "B12345678",
        "Birdland",
        "UWB",
        "w0123abcd",
        "2026-11-10T17:59:59Z",
        "2026-11-10T17:59:59.5+01:00",
        "12:30",
        "İstanbul.example",
        "K.example",
        "ǅ@x.example",
        "",
    ]
)
TEXT = st.text(
    st.sampled_from(list('ab.:@/ UWB019"\\\n\t\u00a0\u2028é€\U0001d518ABZ-_[]{},'))
    | st.characters(codec="utf-8"),
    max_size=12,
)
LEAF = st.one_of(
    VALUES,
    TRICKY,
    TEXT,
    st.integers(-3, 3),
    st.floats(allow_nan=False, allow_infinity=False),
    st.none(),
)
NAMES = st.sampled_from(["a", "ip", "p_event_time", "p_any_usernames", "é", 'q"', "b\\"])
TIMES = st.one_of(
    st.sampled_from(
        [
            "2026-11-01T00:00:00Z",
            "2026-11-02T10:00:00.500000Z",
            "2026-11-02T10:00:00.5Z",
            "2026-11-02T10:00:00.1234567Z",
            "2026-11-30T23:59:59+00:00",
            "2026-11-30T23:59:59+05:30",
            "2026-02-30T00:00:00Z",
            "2026-11-30T24:00:00Z",
            "2026-11-30T23:59:60Z",
            "0000-01-01T00:00:00Z",
            "0001-01-01T00:00:00Z",
            "20261130T235959Z",
            "2026-11-30",
            "bad",
            "",
        ]
    ),
    st.integers(0, 30000000),
    st.none(),
)


@st.composite
def rows(draw: st.DrawFn) -> dict[str, Any]:
    nested = st.recursive(
        LEAF,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3), st.dictionaries(NAMES, inner, max_size=3)
        ),
        max_leaves=10,
    )
    row: dict[str, Any] = {"details": draw(nested), "context": {"ip_address": draw(LEAF)}}
    if draw(st.integers(0, 9)):
        row["p_event_time"] = draw(TIMES)
    if draw(st.booleans()):
        row["p_any_usernames"] = draw(st.one_of(st.lists(LEAF, max_size=3), nested))
    for name in draw(st.lists(NAMES, max_size=2)):
        row[name] = draw(nested)
    return row


def write(rows_: list[dict[str, Any]], style: list[int], trailing: bool) -> bytes:
    """NDJSON as orjson writes it, with some lines as `json` writes them (white space
    after `:` and `,`; `\\u` escapes)."""
    lines = []
    for row, how in zip(rows_, style, strict=False):
        if how == 1:
            lines.append(json.dumps(row).encode())
        elif how == 2:
            lines.append(json.dumps(row, ensure_ascii=False, separators=(",", ":")).encode())
        else:
            lines.append(orjson.dumps(row))
    body = b"\n".join(lines)
    return body + b"\n" if trailing and body else body


def expected(ndjson: bytes) -> dict[str, tuple[list[int], int, int]]:
    """`keys.row_keys` of every parsed row with an event time: the definition."""
    held: dict[str, list[int]] = {}
    times: dict[int, int] = {}
    for number, line in enumerate(ndjson.splitlines()):
        row = orjson.loads(line)
        when = micros(row.get("p_event_time"))
        if when is None:
            continue
        times[number] = when
        for key in keys.row_keys(row):
            held.setdefault(key, []).append(number)
    return {k: (ns, min(times[n] for n in ns), max(times[n] for n in ns)) for k, ns in held.items()}


NATIVE = ok._SCANNER is not None
SMALL = ok.native(limit=3)
"""A scanner whose caches are emptied every few values (between objects)."""


def fast(ndjson: bytes, native: bool = False) -> dict[str, tuple[list[int], int, int]]:
    """`object_keys` by one path; the native one's `key_rows` are checked against it."""
    table = ok.object_keys(ndjson, native=native).to_pylist()
    assert len(table) == len({r["key"] for r in table})
    got = {r["key"]: (r["lines"], r["first"], r["last"]) for r in table}
    pairs = ok.key_rows(ndjson, native=native).to_pylist()
    assert sorted((p["key"], p["line"], p["time"]) for p in pairs) == sorted(
        (k, n, when) for k, (ns, _, _) in got.items() for n in ns for when in [time_of(ndjson, n)]
    )
    return got


def time_of(ndjson: bytes, line: int) -> int | None:
    return micros(orjson.loads(ndjson.splitlines()[line]).get("p_event_time"))


def every_path(ndjson: bytes) -> dict[str, Any]:
    """What each path gives (`raises` when it raises): the arrays path, and when the
    extension is built the shared native scanner, one with a tiny cache, and that one
    reading strings a byte at a time."""
    out = {"arrays": outcome(lambda: fast(ndjson))}
    if NATIVE:
        out["native"] = outcome(lambda: fast(ndjson, native=True))
        out["native, small cache"] = outcome(lambda: small(ndjson))
        out["native, byte at a time"] = outcome(lambda: scalar(ndjson))
    return out


def scalar(ndjson: bytes) -> dict[str, tuple[list[int], int, int]]:
    """The native path without SSE2 (what a machine without it runs)."""
    from connector.indicators import _keyscan

    was = _keyscan.vectors(False)
    try:
        return small(ndjson)
    finally:
        _keyscan.vectors(was)


def small(ndjson: bytes) -> dict[str, tuple[list[int], int, int]]:
    scanned = ok._scanned(ndjson, SMALL)
    table = ok.object_keys(ndjson, native=False) if scanned is None else scanned[1]
    return {r["key"]: (r["lines"], r["first"], r["last"]) for r in table.to_pylist()}


def outcome(run: Any) -> Any:
    try:
        return run()
    except Exception:
        return "raises"


@pytest.mark.timeout(600)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(rows(), min_size=0, max_size=6),
    st.lists(st.sampled_from([0, 0, 0, 1, 2]), min_size=6, max_size=6),
    st.booleans(),
)
@example([{"p_event_time": "2026-11-01T00:00:00Z", "a": {"p_event_time": "x"}}], [0] * 6, True)
@example(
    [{"a": {"p_any_usernames": ["Zed"]}, "p_event_time": "2026-11-01T00:00:00Z"}], [0] * 6, True
)
@example(
    [{"p_event_time": "2026-11-01T00:00:00Z", "p_any_usernames": ["A", ["B"], {"c": "D"}]}],
    [0] * 6,
    False,
)
def test_object_keys_are_row_keys(rows_: list[dict[str, Any]], style: list[int], end: bool) -> None:
    ndjson = write(rows_, style, end)
    got = every_path(ndjson)
    assert got == dict.fromkeys(got, expected(ndjson)), ndjson


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(VALUES, TRICKY, TEXT), min_size=1, max_size=20))
def test_shaped_values_get_the_keys_value_keys_gives(values: list[str]) -> None:
    import pyarrow as pa

    array = pa.array(values, pa.string())
    shaped = shapes.shaped(array)
    got: dict[int, set[str]] = {i: set() for i in range(len(values))}
    for of, key in zip(shaped.of.tolist(), shaped.keys.to_pylist(), strict=True):
        got[of].add(key)
    rest = set(shaped.rest.tolist())
    for i, value in enumerate(values):
        if i not in rest:
            assert got[i] == set(keys.value_keys(value)), value


def conformance_lines() -> list[bytes]:
    """Every real event, as sent and with an event time and user names added (spelling
    kept: the time is written into the line's text)."""
    out = []
    for path in sorted(CONFORMANCE.rglob("*.ndjson")):
        for line in path.read_bytes().splitlines():
            if not line.strip():
                continue
            out.append(line)
            row = orjson.loads(line)
            user = ((row.get("actor") or {}).get("user") or {}).get("name")
            extra = b',"p_event_time":"2026-11-10T17:59:59Z"'
            if isinstance(user, str):
                extra += b',"p_any_usernames":' + orjson.dumps([user])
            out.append(line.rstrip()[:-1] + extra + b"}")
            out.append(orjson.dumps({**row, "p_event_time": "2026-11-10T17:59:59Z"}))
    return out


def test_conformance_events_and_fake_slack_records() -> None:
    lines = conformance_lines()
    assert len(lines) > 100
    records = drift_records(1_800_000_000)
    for kind in sorted(records):
        lines += [
            orjson.dumps({**r, "p_event_time": "2026-11-10T17:59:59Z"}) for r in records[kind]
        ]
    ndjson = b"\n".join(lines) + b"\n"
    got = fast(ndjson)
    assert got == expected(ndjson)
    if NATIVE:
        assert fast(ndjson, native=True) == got
    assert any(k.startswith("email:") for k in got) and any(k.startswith("ip4:") for k in got)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(VALUES, TRICKY, TEXT).map(lambda v: f"dom:{v}"), max_size=20))
def test_fingerprints_with_arrays_are_fingerprints(texts: list[str]) -> None:
    import pyarrow as pa

    from connector.search import index

    texts += ["ip4:c0a80101", "ip6:20010db8000000000000000000000001", "url:" + "x" * 99]
    want = sorted({h for key in texts for h in index.fingerprints(key)})
    for native in (False, True):
        assert index._fingerprints(pa.array(texts, pa.string()), native).tolist() == want


def test_space_is_pythons_white_space() -> None:
    import re

    import pyarrow as pa
    import pyarrow.compute as pc

    every = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    spaces = pc.match_substring_regex(pa.array(every), f"^[{shapes.SPACE}]$").to_pylist()
    assert [c for c, s in zip(every, spaces, strict=True) if s] == [
        c for c in every if re.match(r"\s", c)
    ]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.binary(max_size=80), max_size=20))
def test_crc32_many_is_zlibs_on_both_paths(spans: list[bytes]) -> None:
    import zlib

    import numpy as np

    from connector.search import index

    data = np.frombuffer(b"".join(spans) + b"\0", np.uint8)
    sizes = np.array([len(s) for s in spans], np.int64)
    starts = np.cumsum(np.concatenate(([0], sizes)))[:-1].astype(np.int64)
    want = [zlib.crc32(s) for s in spans]
    assert index.crc32_many(data, starts, sizes, native=False).tolist() == want
    assert index.crc32_many(data, starts, sizes).tolist() == want


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=30) | st.text(alphabet="a\n\r", max_size=12).map(str.encode))
@example(b"a\r\nb")
@example(b"\n")
def test_line_count_is_splitlines(ndjson: bytes) -> None:
    from connector.search import index

    assert index.line_count(ndjson) == len(ndjson.splitlines())
