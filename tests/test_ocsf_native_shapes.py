"""The native OCSF mapper against the Python one on the shapes that attack a mapper working
on the JSON text: escapes, non-ASCII and 4-byte UTF-8, floats, ints and bools where
strings belong, nulls, empty strings, objects and lists, dotted keys, repeated keys
(written by hand: orjson cannot), 64-bit edges, odd times, IPs, emails, entity kinds,
counts and log types. Each shape is put into rows of every class the native mapper
writes (`test_each_odd_value_in_each_class`), then hypothesis mixes them
(derandomized; every counterexample it found is kept as an `@example`). The native
mapper may hand any line back; what it maps must be the oracle's event.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.factories import access, audit, integration
from tests.ocsf_native_check import ACTIONS, ENTITIES, Pairs, Raw, compare, dump, ndjson
from tests.test_ocsf_mapping import ACCESS, AUDIT, INTEGRATION, landed

native = pytest.importorskip("connector.ocsf.native")
pytestmark = pytest.mark.skipif(not native.available(), reason="the native mapper is not built")

T = 1_700_000_000
TEXTS = [
    "",
    'a "quoted" name',
    "back\\slash",
    "new\nline",
    "tab\t\x01\x1f",
    "Zürich",
    "日本語",
    "emoji 😀 𝄞",
    "line\u2028sep",
    "a/b",
    "a,b,,c",
    "  spaced  ",
]
RAWS = [
    Raw(b'"\\u0041BC"'),
    Raw(b'"caf\\u00e9"'),
    Raw(b'"\\ud83d\\ude00"'),
    Raw(b'"\\/slash"'),
    Raw(b"1.0"),
    Raw(b"1E3"),
    Raw(b"-0"),
    Raw(b"18446744073709551616"),
    Raw(b' "spaced" '),
]
NUMBERS = [0, -1, 7, 2**31 - 1, 2**31, 2**53 + 1, 2**63 - 1, -(2**63), 2**64 - 1, 1.5, -0.0, 1e16]
DEEP: dict[str, Any] = {"leaf": 1}
for _ in range(40):
    DEEP = {"d": DEEP}
OTHERS = [None, True, False, {}, [], ["a", 1, None, {"x": [True]}], {"k": "v"}, {"": {"": 1}}]
OTHERS += [DEEP, {f"k{i}": i for i in range(600)}, "x" * 70_000]
SORTS = {"a": {"x": 1}, "a-b": 2, "a!": 3, "a0": 4, "a/": 5, "B": 6, "é": 7, "ключ": 8, "": 9}
"""Keys whose flattened paths sort otherwise than their objects: `unmapped` is sorted by
the whole dotted path (`a!` < `a-b` < `a.x` < `a/` < `a0`)."""
VALUES = TEXTS + RAWS + NUMBERS + OTHERS
IPS = [
    "0.0.0.0",
    "255.255.255.255",
    "256.1.1.1",
    "01.2.3.4",
    "1.2.3",
    "1.2.3.4.5",
    " 1.2.3.4",
    "::",
    "::1",
    "2001:db8::1",
    "2001:0DB8:0000::0001",
    "1:2:3:4:5:6:7:8",
    "1:2:3:4:5:6:7:8:9",
    "1::2::3",
    "fe80::1%eth0",
    "fe80::1%",
    "fe80::1%é",
    "::ffff:192.0.2.1",
    "::ffff:01.2.3.4",
    "1.2.3.4%eth0",
    "\u0661.\u0662.\u0663.\u0664",
    "not-an-ip",
]
EMAILS = ["a@b.co", "x.y+z@ex-ample.org", "a@b..c", "a@-.-", "a@b.", "é@b.co", "a b@c.d", "@b.co"]
TIMES = [0, -5, 1.5, T + 0.999, 2**63 - 1, -(2**63), "17", " 17", "1_700_000_000", "1e9"]
TIMES += ["inf", "nan", "\u0661\u0667", "", True, None, {}, Raw(b"1.7E9"), Raw(b"1700000000.0")]
EVENT_TIMES = ["2024-03-05T08:25:47Z", "2024-03-05T08:25:47.123456+02:00", "2024-03-05"]
EVENT_TIMES += ["20240305T082547Z", "not a time", ""]
KINDS = ["workspace", "enterprise", "channel", "app", "user", "usergroup", "file", "workflow"]
KINDS += ["canvas", "a.b", "", "Channel"]


def put(row: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """The row with `value` at dotted `path` (parents made); `...` removes the field."""
    out = copy.deepcopy(row)
    *parents, last = path.split(".")
    node = out
    for key in parents:
        if not isinstance(node.get(key), dict):
            node[key] = {}
        node = node[key]
    if value is ...:
        node.pop(last, None)
    else:
        node[last] = value
    return out


STRING_PATHS = ["id", "action", "actor.user.id", "actor.user.name", "actor.user.email"]
STRING_PATHS += ["actor.user.team", "actor.type", "entity.type", "context.ua"]
STRING_PATHS += ["context.session_id", "context.location.id", "context.ip_address"]
MUTATIONS: list[tuple[str, Any]] = [(p, v) for p in STRING_PATHS for v in VALUES]
MUTATIONS += [("context.ip_address", ip) for ip in IPS] + [("actor.user.email", e) for e in EMAILS]
MUTATIONS += [("date_create", t) for t in TIMES] + [("entity.type", k) for k in KINDS]
MUTATIONS += [(p, ...) for p in ["id", "date_create", "action", "actor", "entity", "context"]]
MUTATIONS += [(p, v) for p in ["actor", "actor.user", "entity", "context"] for v in VALUES]
MUTATIONS += [(p, v) for p in ["entity.user", "entity.file", "context.location"] for v in VALUES]
MUTATIONS += [("details", SORTS), ("extra", SORTS), ("actor.user", {**SORTS, "id": "W1"})]
MUTATIONS += [("p_event_time", t) for t in EVENT_TIMES]
MUTATIONS += [("extra", v) for v in VALUES] + [("details.reason", v) for v in VALUES]
MUTATIONS += [("p_log_type", v) for v in ["Slack.Other", None, 5, ...]]
MUTATIONS += [("p_row_id", v) for v in [7, None, ..., 1.5]]
BASES = [
    ("user_login", None),
    ("user_created", None),
    ("role_change_to_admin", None),
    ("app_installed", {"type": "app", "app": {"id": "A1", "name": "Jira", "scopes": ["x"]}}),
    ("user_channel_join", {"type": "channel", "channel": {"id": "C1", "name": "general"}}),
    ("file_downloaded", {"type": "file", "file": {"id": "F1", "name": "a.pdf"}}),
    ("channel_created", {"type": "channel", "channel": {"id": "C1", "name": "general"}}),
    ("huddle_started", None),
]


def base(action: str, entity: Any, i: int = 1) -> dict[str, Any]:
    row = audit(i, T, action, **({"entity": entity} if entity else {}))
    return landed(row, AUDIT, i)


def raw_rows(row: dict[str, Any]) -> list[Pairs]:
    """The row with keys repeated (last wins in orjson) and dotted, written by hand."""
    top = list(row.items())
    user = list(row["actor"]["user"].items())
    ctx = {**row["context"], "ip_address": "10.9.9.9"}
    return [
        Pairs([("id", "first"), *top]),
        Pairs([*top, ("action", "user_logout")]),
        Pairs([*top, ("date_create", 1)]),
        Pairs([*top, ("actor", {"type": "user", "user": {"id": "W2"}})]),
        Pairs([*top, ("actor", Pairs([("type", "user"), ("user", Pairs([*user, ("id", "W3")]))]))]),
        Pairs([*top, ("context", Pairs([*ctx.items(), ("ip_address", "10.0.0.2")]))]),
        Pairs([*top, ("actor.user.id", "Wdotted")]),
        Pairs([("context.ip_address", "10.1.1.1"), *top]),
        Pairs([*top, ("entity.file.id", "Fdotted")]),
        Pairs([*top, ("details", {"a.b": 1, "a": {"b": 2}, "c": {"d.e": [1]}})]),
        Pairs([*top, ("actor", {"type": "user", "user": {**row["actor"]["user"], "x.y": 1}})]),
        Pairs([*top, ("p_log_type", "Slack.AccessLogs")]),
        Pairs([*top, ("p_x", 1.5), ("p_y", {"a.b": [1]})]),
        Pairs([*top, ("extra", "x"), ("extra", {"k": 1})]),
        Pairs([*top, ("extra", {"x": 1}), ("extra-b", 2), ("extra!", 3), ("extra0", 4)]),
        Pairs([*top, ("", 1), ('k"q', 2), ("ключ", 3), ("details.", {"": 4})]),
    ]


@pytest.mark.parametrize(
    ("action", "entity"),
    BASES,
    ids=[a for a, _ in BASES],
)
def test_each_odd_value_in_each_class(action: str, entity: Any) -> None:
    row = base(action, entity)
    rows: list[Any] = [row] + [put(row, path, value) for path, value in MUTATIONS]
    compare(ndjson(rows + raw_rows(row)))


def test_odd_access_and_integration_rows() -> None:
    a = landed(access("U1", "203.0.113.9", "Mozilla/5.0", T, T + 60), ACCESS, 1)
    i = landed(integration(2, T), INTEGRATION, 2)
    rows: list[Any] = [a, i]
    for path, value in [("count", v) for v in [0, 2**31 - 1, 2**31, -1, True, 1.0, "3"]] + [
        (p, v)
        for p in ["user_id", "username", "user_agent", "ip", "country", "date_first", "date_last"]
        for v in VALUES + TIMES[:8] + IPS[:8]
    ]:
        rows.append(put(a, path, value))
    for path in ["user_id", "user_name", "date", "change_type", "app_id", "app_type", "scope"]:
        rows += [put(i, path, v) for v in VALUES + TIMES]
    rows += [put(i, "service_id", v) for v in VALUES] + [put(a, "p_row_id", v) for v in (7, ...)]
    compare(ndjson([*rows, Pairs([*a.items(), ("count", 5)])]))


# ------------------------------------------------------------------------- hypothesis
AUDIT_PATHS = [*STRING_PATHS, "date_create", "details.reason", "details.new_scopes"]
AUDIT_PATHS += ["details.role", "entity.app.scopes", "entity.file.name", "entity.file.title"]
AUDIT_PATHS += ["entity.file.id", "entity.channel.id", "entity.usergroup.name", "entity.user.id"]
AUDIT_PATHS += ["entity.user.email", "entity.workspace.id", "extra", "p_log_type", "p_row_id"]
AUDIT_PATHS += ["p_event_time", "actor", "entity", "context", "details", "entity.canvas.name"]
ACCESS_PATHS = ["user_id", "username", "date_first", "date_last", "count", "ip", "user_agent"]
ACCESS_PATHS += ["country", "region", "isp", "p_row_id"]
INTEGRATION_PATHS = ["user_id", "user_name", "date", "change_type", "app_id", "app_type"]
INTEGRATION_PATHS += ["service_id", "service_type", "scope", "reason", "p_row_id"]
odd = (
    st.sampled_from([*VALUES, *IPS, *EMAILS, *TIMES, *KINDS, ...])
    | st.text(max_size=6)
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.lists(st.sampled_from(VALUES), max_size=3)
)


def repeated(row: dict[str, Any], at: str, key: str, value: Any, first: bool) -> Any:
    """The row with `key` written once more in the object at `at` (before or after the
    keys there: orjson keeps the last)."""
    out = copy.deepcopy(row)
    parent, node = None, out
    for part in at.split(".") if at else []:
        parent, node = node, node.get(part)
        if not isinstance(node, dict):
            return out
    pairs = Pairs([(key, value), *node.items()] if first else [*node.items(), (key, value)])
    if parent is None:
        return pairs
    parent[at.rsplit(".", 1)[-1]] = pairs
    return out


@st.composite
def lines(draw: st.DrawFn) -> Any:
    """A realistic row of any log type, then up to three fields given odd values, and
    now and then a key written twice or a dotted key."""
    i = draw(st.integers(0, 9_999))
    kind = draw(st.sampled_from(["audit"] * 4 + ["access", "integration"]))
    if kind == "audit":
        entity = draw(st.sampled_from(ENTITIES))
        row = audit(
            i, T + i, draw(st.sampled_from(ACTIONS)), **({"entity": entity} if entity else {})
        )
        row, paths = landed(row, AUDIT, i), AUDIT_PATHS
    elif kind == "access":
        row = landed(access(f"U{i}", "203.0.113.9", "Mozilla/5.0", T, T + i), ACCESS, i)
        paths = ACCESS_PATHS
    else:
        row, paths = landed(integration(i, T + i), INTEGRATION, i), INTEGRATION_PATHS
    for path, value in draw(st.lists(st.tuples(st.sampled_from(paths), odd), max_size=3)):
        row = put(row, path, value)
    where = st.sampled_from(["", "", "actor.user", "context", "entity", "details"])
    key = st.sampled_from([*paths, "id", "a.b", "actor.user.id", "context.ip_address"])
    twice = draw(
        st.none() | st.tuples(where, key, odd.filter(lambda v: v is not ...), st.booleans())
    )
    return row if twice is None else repeated(row, *twice)


@settings(max_examples=400, deadline=None, derandomize=True)
@given(batch=st.lists(lines(), min_size=1, max_size=8))
@example(batch=[put(base("user_login", None), "context.ip_address", "\u0661.\u0662.\u0663.\u0664")])
@example(batch=[repeated(base("user_login", None), "", "action", "user_logout", False)])
@example(batch=[repeated(base("user_login", None), "", "actor.user.id", "W1", True)])
def test_any_shape_maps_to_the_oracles_event(batch: list[Any]) -> None:
    compare(ndjson(batch))


def test_lines_with_bytes_changed_map_as_the_oracle_or_go_back() -> None:
    """Canonical lines with one to three bytes changed, dropped or added (seeded): one
    orjson reads maps to the oracle's event or is handed back; one it rejects is handed
    back, never mapped (the Python path then fails on it as it would alone)."""
    import random

    import orjson

    rng = random.Random(29)
    alphabet = b'{}[]",:.\\0123456789-eE tfnul\x00\x7f\xc3\xa9\xff\x80aAp_'
    lines = [dump(base(a, e, i)) for i, (a, e) in enumerate(BASES)]
    mapped = 0
    for _ in range(3_000):
        line = bytearray(rng.choice(lines))
        for _ in range(rng.randint(1, 3)):
            at, op = rng.randrange(len(line)), rng.random()
            if op < 0.4:
                line[at] = rng.choice(alphabet)
            elif op < 0.7:
                del line[at]
            else:
                line.insert(at, rng.choice(alphabet))
        nd = bytes(line) + b"\n"
        try:
            readable = isinstance(orjson.loads(nd), dict)
        except orjson.JSONDecodeError:
            readable = False
        if readable:
            mapped += not compare(nd).fallback
        else:
            assert native.map_object(nd).fallback == [1], nd
    assert mapped > 500, mapped  # the changed lines the extension still maps are checked
