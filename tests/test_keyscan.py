"""The native key scan (`_keyscan`) on hostile text: what orjson writes and what it does
not (repeated member names, white space, escapes, `\\r`, empty lines, invalid JSON and
UTF-8), against `keys.row_keys` over the parsed rows (the definition) and the arrays
path.

Each line the scanner cannot read exactly goes to the Python walk, so every path gives
the same keys, or every path raises. The arrays path takes lines to be what orjson
writes (no member name given twice in one object), so it is compared only on objects
without repeated names.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from connector.indicators import keys
from connector.indicators import object_keys as ok
from tests.test_object_keys import NAMES, NATIVE, TEXT, TIMES, TRICKY, every_path, expected, outcome
from tests.test_search_index import VALUES

pytestmark = pytest.mark.skipif(not NATIVE, reason="the native key scan is not built")

HOSTILE = st.sampled_from(
    [
        "U123",
        "U1234567",
        "U12345678X",
        "UABCDEF",
        "WABCDEFG",
        "B0000000",
        "BIRDLAND",
        "Bird.land",
        "u1234567",
        "1.2.3.4.",
        ".1.2.3.4",
        "1..2.3",
        "255.255.255.255",
        "1.2.3.256",
        "1.2.3.-1",
        "01.2.3.4",
        "1.2.3.0",
        "0.0.0.0",
        "1.2.3.4\u0660",
        "\u0661.2.3.4",
        "1234.1.1.1",
        "W" + "0" * 59,
        "W" + "0" * 60,
        "U0ACCESS1",
        "2001:db8::1",
        "2001:DB8:0:0:0:0:0:1",
        "2001:0db8:0000:0000:0000:0000:0000:0001",
        "::ffff:192.0.2.1",
        "::FFFF:C000:0201",
        "fe80::1",
        "1::",
        "ABCD::",
        "dead:beef",
        "ab:cd",
        ":",
        "::::",
        "1:2:3:4:5:6:7:8:9",
        "a" * 46 + ":1",
        "0:" * 22 + "0",
        "12:30:45",
        "a://b",
        "https://Evil.Example/payload",
        "HTTP://User@HOST.Example:8080",
        "http://[::1]/x",
        "ftp://x.example",
        "x://y:z",
        "https://host.example?q",
        "x://",
        ":://",
        "a:/b",
        "Ana@BIRDLAND.example",
        "ANA@birdland.EXAMPLE",
        "ana@Bücher.example",
        "Ana.Müller@Birdland.Example",
        "a@b",
        "a@b.c:1",
        "back\\slash",
        'quo"te',
        "tab\there",
        "new\nline",
        "cr\rhere",
        "\u2028",
        "é.example",
        "\U0001d518@x.example",
        "2026-11-01T00:00:00Z",
        "p_event_time",
        "p_any_usernames",
    ]
)
STRING = st.one_of(HOSTILE, TRICKY, VALUES, TEXT)
VALID = st.sampled_from(
    [
        "2026-11-01T00:00:00Z",
        "2026-11-30T23:59:59Z",
        "2026-11-02T10:00:00.5Z",
        "2024-02-29T12:00:00Z",
    ]
)
NAME = st.one_of(NAMES, st.sampled_from(["p_event_time", "p_any_usernames", "x"]), TEXT)
LEAF = st.one_of(
    STRING,
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
)


class Members(tuple[tuple[str, Any], ...]):
    """A JSON object as written: its members in order, names perhaps repeated."""


def trees() -> st.SearchStrategy[Any]:
    return st.recursive(
        LEAF,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3),
            st.lists(st.tuples(NAME, inner), max_size=3).map(Members),
        ),
        max_leaves=10,
    )


@st.composite
def rows(draw: st.DrawFn) -> Members:
    members = draw(st.lists(st.tuples(NAME, trees()), max_size=3))
    for _ in range(draw(st.sampled_from([0, 1, 1, 1, 1, 2]))):
        kind = draw(st.sampled_from([VALID, VALID, VALID, VALID, TIMES, STRING, trees()]))
        when = draw(kind)
        members.insert(draw(st.integers(0, len(members))), ("p_event_time", when))
    if draw(st.booleans()):
        names = draw(st.one_of(st.lists(st.one_of(STRING, trees()), max_size=4), trees()))
        members.insert(draw(st.integers(0, len(members))), ("p_any_usernames", names))
    return Members(members)


def dump(node: Any, ascii_only: bool, space: str) -> str:
    """JSON text of a tree; `ascii_only` writes `\\u` escapes, `space` follows `:` and `,`."""
    if isinstance(node, Members):
        inner = f",{space}".join(
            f"{dump(k, ascii_only, space)}:{space}{dump(v, ascii_only, space)}" for k, v in node
        )
        return "{" + inner + "}"
    if isinstance(node, list):
        return "[" + f",{space}".join(dump(v, ascii_only, space) for v in node) + "]"
    return json.dumps(node, ensure_ascii=ascii_only)


def repeats(node: Any) -> bool:
    """Whether some object of the tree gives a member name twice."""
    if isinstance(node, Members):
        names = [k for k, _ in node]
        return len(set(names)) < len(names) or any(repeats(v) for _, v in node)
    if isinstance(node, list):
        return any(repeats(v) for v in node)
    return False


@st.composite
def objects(draw: st.DrawFn) -> tuple[bytes, bool]:
    """NDJSON of hostile rows, and whether a name repeats in it."""
    written = []
    for row in draw(st.lists(rows(), max_size=5)):
        how = draw(
            st.sampled_from([(False, ""), (False, ""), (False, ""), (True, ""), (False, " ")])
        )
        written.append((dump(row, *how).encode(), repeats(row)))
    ends = [draw(st.sampled_from([b"\n"] * 12 + [b"\r\n", b"\r", b"\n\n"])) for _ in written]
    body = b"".join(text + end for (text, _), end in zip(written, ends, strict=True))
    if draw(st.booleans()):
        body = body.removesuffix(b"\n")
    return body, any(r for _, r in written)


def check(ndjson: bytes, repeated: bool) -> None:
    want = outcome(lambda: expected(ndjson))
    got = every_path(ndjson)
    if repeated:
        del got["arrays"]
    assert got == dict.fromkeys(got, want), ndjson


@pytest.mark.timeout(900)
@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(objects())
@example((b'{"p_event_time":"2026-11-01T00:00:00Z","a":"1.2.3.4","a":"x"}\n', True))
@example((b'{"p_event_time":"2026-11-01T00:00:00Z","a":["a://b"]}\n', False))
@example((b'{"a":"1.2.3.4","p_event_time":"2026-11-01T00:00:00Z","p_event_time":"bad"}', True))
@example(
    (b'{"p_any_usernames":["U1"],"p_event_time":"2026-11-01T00:00:00Z","p_any_usernames":1}', True)
)
def test_native_scan_gives_row_keys_on_hostile_text(written: tuple[bytes, bool]) -> None:
    check(*written)


INVALID = [
    b'{"p_event_time":"2026-11-01T00:00:00Z","a":tru}',
    b'{"p_event_time":"2026-11-01T00:00:00Z","a":1,}',
    b'{"p_event_time":"2026-11-01T00:00:00Z","a":01}',
    b'{"p_event_time":"2026-11-01T00:00:00Z","a":1.}',
    b'{"p_event_time":"2026-11-01T00:00:00Z","a":-}',
    b'{"p_event_time":"2026-11-01T00:00:00Z","a":1e999}',
    b'{"p_event_time":"2026-11-01T00:00:00Z","a":"x\x01y"}',
    b'{"p_event_time":"2026-11-01T00:00:00Z","a":"\xff@x.example"}',
    b'{"p_event_time":"2026-11-01T00:00:00Z","a":"\xed\xa0\x80@x.example"}',
    b'{"p_event_time":"2026-11-01T00:00:00Z","a":"\xc0\xaf.example"}',
    b'{"p_event_time":"2026-11-01T00:00:00Z","a":"1.2.3.4"}x',
    b'{"p_event_time":"2026-11-01T00:00:00Z","a":"1.2.3.4"}}',
    b'{"p_event_time":"2026-11-01T00:00:00Z","a":["1.2.3.4"}',
    b'{"p_event_time":"2026-11-01T00:00:00Z","a":"1.2.3.4}',
    b'{"p_event_time":"2026-11-01T00:00:00Z",a:"1.2.3.4"}',
    b'{"p_event_time":"2026-11-01T00:00:00Z","a"}',
    b'["p_event_time","1.2.3.4"]',
    b'"1.2.3.4"',
    b"{" * 70 + b"}" * 70,
    b'{"p_event_time":"2026-11-01T00:00:00Z","a":' + b"[" * 70 + b'"1.2.3.4"' + b"]" * 70 + b"}",
    b'{"p_event_time":"2026-11-01T00:00:00Z","a":123456789012345678901234567890,"b":"1.2.3.4"}',
    b'{"p_event_time":"2026-11-01T00:00:00Z","a":1E+05,"b":"1.2.3.4"}',
    b'{"p_event_time":"2026-11-01T00:00:00Z","a":-0.0e-0,"b":"1.2.3.4"}',
    b'{"p_event_time":"2026-11-01T00:00:00Z"}\n',
    b"",
    b"\n",
]


@pytest.mark.parametrize("line", INVALID)
def test_lines_the_scanner_cannot_read_go_to_the_parser(line: bytes) -> None:
    """Invalid JSON raises on the native path as the parser does; what it only cannot
    read (too deep, a long number) is walked in Python and gives the same keys."""
    ndjson = line + b'\n{"p_event_time":"2026-11-01T00:00:01Z","ip":"1.2.3.4"}\n'
    got = every_path(ndjson)
    del got["arrays"]
    assert got == dict.fromkeys(got, outcome(lambda: expected(ndjson)))


def test_the_caches_are_bounded() -> None:
    """A scanner's cache holds at most its limit of values past one object (it is
    emptied before the next), and what it gives stays exact."""
    scanner = ok.native(limit=8)
    assert scanner is not None
    body = b"".join(
        b'{"p_event_time":"2026-11-01T00:00:00Z","v":"https://h%d.example/"}\n' % n
        for n in range(20)
    )
    for _ in range(2):
        scanned = ok._scanned(body, scanner)
        assert scanned is not None
        assert scanned[1].num_rows == 40
    assert scanner.stats()["values"] == 20
    scanned = ok._scanned(b'{"p_event_time":"2026-11-01T00:00:00Z","v":"x y"}', scanner)
    assert scanned is not None and scanned[1].num_rows == 0
    assert scanner.stats()["values"] <= 1


LABELISH = st.text(alphabet="aZz09._-@ .Ué", min_size=0, max_size=14)
LONG_LABELS = st.builds(
    lambda a, b, c, tail: f"{'x' * a}.{'y' * b}{tail}{'z' * c}",
    st.integers(1, 70),
    st.integers(0, 70),
    st.integers(0, 70),
    st.sampled_from(["", ".", ".com", "@e.x", ".9", "-", "_"]),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(LABELISH, LONG_LABELS, STRING), min_size=1, max_size=12))
@example(["a." * 126 + "example", "x@" + "a" * 64 + ".example", "a@b.example.", "."])
@example(
    [f"{'b' * 63}.{'c' * 63}.{'d' * 63}.{'e' * n}{end}" for n in (61, 62) for end in ("", ".")]
)
@example([f"x@{'b' * 63}.{'c' * 63}.{'d' * 63}.{'e' * n}" for n in (61, 62)])
@example(["a.b_c", "x@a.b_c", "a_.b", "_a.b", "a-.b", "a.-b", "a.b-", "x@-a.b", "W0123ABC@x.y"])
def test_native_shapes_give_value_keys(values: list[str]) -> None:
    """The shapes the scanner decides itself (Slack ids, IPv4, dotted names, plain
    emails, ASCII user names) give what `keys.value_keys` and `keys.username_key` give:
    a fresh scanner, so none is cached."""
    row = {"p_event_time": "2026-11-01T00:00:00Z", "v": values, "p_any_usernames": values}
    ndjson = orjson.dumps(row) + b"\n"
    scanned = ok._scanned(ndjson, ok.native())
    assert scanned is not None
    got = {r["key"] for r in scanned[1].to_pylist()}
    want = {k for v in values for k in keys.value_keys(v)}
    assert got == want | {keys.username_key(v) for v in values}


def test_a_scanner_refuses_to_be_entered_twice_and_passes_errors_on() -> None:
    """A rule that scans again (another thread could, while a rule runs) is refused; a
    rule's exception comes out of `scan` as it is, and the scanner works on after both."""
    from connector.indicators._keyscan import Scanner

    line = b'{"p_event_time":"2026-11-01T00:00:00Z","v":"https://h.example/"}\n'

    def again(value: str) -> tuple[str, ...]:
        scanner.scan(line)
        return ()

    scanner = Scanner(again, keys.username_key, keys.micros, ok._walked, 8)
    with pytest.raises(RuntimeError, match="not reentrant"):
        scanner.scan(line)

    def broken(value: str) -> tuple[str, ...]:
        raise KeyError(value)

    scanner = Scanner(broken, keys.username_key, keys.micros, ok._walked, 8)
    with pytest.raises(KeyError):
        scanner.scan(line)
    scanner = Scanner(keys.value_keys, keys.username_key, keys.micros, ok._walked, 8)
    with pytest.raises(TypeError):
        scanner.scan("not bytes")  # type: ignore[arg-type]
    scanned = ok._scanned(line, scanner)
    assert scanned is not None
    assert sorted(scanned[1].column("key").to_pylist()) == [
        "dom:h.example",
        "url:https://h.example/",
    ]


def test_threads_share_the_scanner() -> None:
    """Objects indexed from several threads at once get the keys each gets alone."""
    from concurrent.futures import ThreadPoolExecutor

    bodies = [
        b"".join(
            b'{"p_event_time":"2026-11-01T00:00:0%dZ","v":"https://h%d.example/","w":"W%07d"}\n'
            % (n % 10, n, t)
            for n in range(200)
        )
        for t in range(8)
    ]
    alone = [expected(b) for b in bodies]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda b: every_path(b)["native"], bodies * 3))
    assert together == alone * 3
