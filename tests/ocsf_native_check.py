"""The native OCSF mapper (`connector.ocsf.native`) held against the Python one
(`connector.ocsf.mapper.to_ocsf`, the oracle, which defines the events).

`compare` maps one object's NDJSON natively and checks, for every line: it is in exactly
one place (one native class table, or `fallback`); each table is sorted as the objects
keep their rows (time, then the later line first) and cut by event day; a native row is
the oracle's event for that line, in the same class, field for field as Arrow holds it
(`unmapped` in its order too); and it validates against the vendored OCSF 1.1.0 schema.
A line whose oracle event Arrow cannot hold (a time past int64) must be handed back, so
both paths fail alike. Every difference is listed (line, field, native against oracle),
not only the first.

`ACTIONS` (every family's, `test_every_family_is_covered`), `ENTITIES` and `DETAILS` are
the shapes the factories' rows are given.

`dump` writes JSON the way a test wants it, not only orjson's way: `Pairs` is an object
with its keys in the order given, repeated if they are; `Raw` is a literal written as is
(an escape orjson would not write, `1.0`, `1E3`, spaces).
"""

from __future__ import annotations

import io
from typing import Any

import orjson
import pyarrow as pa

from connector.ocsf.mapper import to_ocsf
from connector.ocsf.output import UID_CLASS
from connector.ocsf.parquet import schema
from tests.ocsf_schema import validate
from tests.test_ocsf_mapping import NAMED
from tests.test_ocsf_output import _json

Row = dict[str, Any]
DAY = 86_400_000

PATTERNED = [
    "user_2fa_enabled",
    "two_factor_auth_removed",
    "role_change_to_admin",
    "role_change_to_owner",
    "role_assigned",
    "owner_transferred",
    "user_added_to_usergroup",
    "usergroup_member_removed",
    "pref.sso_setting_changed",
    "dlp_rule_created",
    "legal_hold_policy_deleted",
    "ekm_enrolled",
    "channel_created",
    "private_channel_deleted",
    "channel_renamed",
    "mpim_converted_to_private",
    "huddle_started",
]
ACTIONS = [*NAMED, *PATTERNED]
ENTITIES: list[dict[str, Any] | None] = [
    None,
    {},
    {"type": "user", "user": {"id": "U9", "name": "nine", "email": "n@example.com", "team": "T1"}},
    {"type": "user", "user": {"name": "no id"}},
    {"type": "channel", "channel": {"id": "C1", "name": "general", "privacy": "private"}},
    {"type": "channel", "channel": {"id": "C1"}},
    {"type": "usergroup", "usergroup": {"id": "S1", "name": "oncall"}},
    {"type": "file", "file": {"id": "F1", "name": "a.pdf", "title": "A title"}},
    {"type": "file", "file": {"id": "F1", "title": "only a title"}},
    {"type": "file", "file": {"id": "F1"}},
    {"type": "file", "file": {"name": "no id.pdf"}},
    {"type": "app", "app": {"id": "A1", "name": "Jira", "scopes": ["chat:write", "users:read"]}},
    {"type": "app", "app": {"id": "A1", "scopes": "chat:write,,users:read"}},
    {"type": "workspace", "workspace": {"id": "T1", "name": "acme", "domain": "acme"}},
    {"type": "enterprise", "enterprise": {"id": "E1", "name": "Acme Inc"}},
    {"type": "workflow", "workflow": {"id": "Wf1", "name": "onboard"}},
    {"type": "role", "role": {"id": "R1", "name": "auditor"}},
    {"type": "canvas", "canvas": {"id": "K1", "name": "plan"}},
    {"type": "canvas", "channel": {"id": "C2", "name": "other kind"}},
    {"type": "a.b", "a": {"b": {"id": "X1"}}},
    {"type": "", "message": {"team": "T1", "channel": "C1"}},
]
DETAILS: list[dict[str, Any] | None] = [
    None,
    {"new_scopes": ["files:read"], "previous_scopes": []},
    {"role": "admin", "reason": "promotion"},
]


class Raw(bytes):
    """A JSON literal written as is."""


class Pairs(list[tuple[str, Any]]):
    """An object as its (key, value) pairs, in order, repeats kept."""


def dump(value: Any) -> bytes:
    if isinstance(value, Raw):
        return bytes(value)
    if isinstance(value, dict):
        value = Pairs(value.items())
    if isinstance(value, Pairs):
        return b"{" + b",".join(orjson.dumps(k) + b":" + dump(v) for k, v in value) + b"}"
    if isinstance(value, list):
        return b"[" + b",".join(dump(v) for v in value) + b"]"
    return orjson.dumps(value)


def ndjson(rows: list[Any]) -> bytes:
    return b"".join(dump(r) + b"\n" for r in rows)


def oracle(line: bytes) -> tuple[str, Row] | None:
    """The oracle's class and event as Arrow holds it; None when Arrow cannot."""
    event = to_ocsf(orjson.loads(line))
    cls = UID_CLASS[event["class_uid"]]
    try:
        return cls, pa.Table.from_pylist([event], schema=schema(cls)).to_pylist()[0]
    except (pa.ArrowException, OverflowError, TypeError, ValueError):
        return None


def diff(native: Any, want: Any, at: str = "") -> list[str]:
    """Where two events differ, as `field: native ... oracle ...`."""
    if isinstance(native, dict) and isinstance(want, dict):
        return [
            d
            for k in sorted(native.keys() | want.keys())
            for d in diff(native.get(k), want.get(k), f"{at}.{k}" if at else k)
        ]
    if native == want and type(native) is type(want):
        return []
    if at == "unmapped" and isinstance(native, list) and isinstance(want, list):
        got, exp = dict(native), dict(want)
        out = [
            f"unmapped[{k!r}]: native {got.get(k)!r} oracle {exp.get(k)!r}"
            for k in sorted(got.keys() | exp.keys())
            if got.get(k) != exp.get(k)
        ]
        return out or [f"unmapped: order, native {[k for k, _ in native]}"]
    return [f"{at}: native {native!r} oracle {want!r}"]


def problems(nd: bytes, mapped: Any) -> list[str]:
    """Every way the native mapping of `nd` breaks the invariants (empty: none)."""
    lines = list(io.BytesIO(nd))
    out: list[str] = []
    seen: list[int] = []
    for cls, part in mapped.parts.items():
        table, numbers = part.table, part.lines
        if not table.schema.equals(schema(cls)):
            out.append(f"{cls}: schema {table.schema} is not parquet.schema({cls!r})")
        if numbers.type != pa.int32() or len(numbers) != len(table):
            out.append(f"{cls}: line numbers {numbers.type} x{len(numbers)}, rows {len(table)}")
        ns = numbers.to_pylist()
        out += _order(cls, table, ns, part.days)
        for n, got in zip(ns, table.to_pylist(), strict=False):
            seen.append(n)
            text = lines[n - 1] if 0 < n <= len(lines) else b"(no such line)"
            want = oracle(text) if 0 < n <= len(lines) else None
            if want is None:
                found = ["mapped natively, the oracle's Arrow fails"]
            elif want[0] != cls:
                found = [f"class: native {cls} oracle {want[0]}"]
            else:
                found = diff(got, want[1])
                errors = validate(_json(got))
                found += [f"invalid OCSF {errors}"] if errors else []
            out += [f"line {n}: {d}\n    {text[:400]!r}" for d in found]
    both = set(seen) & set(mapped.fallback)
    if both or len(seen) != len(set(seen)) or len(mapped.fallback) != len(set(mapped.fallback)):
        out.append(f"lines in two places: {sorted(both)[:20]}")
    every = set(range(1, len(lines) + 1))
    placed = set(seen) | set(mapped.fallback)
    if placed != every:
        out.append(f"lines lost {sorted(every - placed)[:20]}, invented {sorted(placed - every)}")
    return out


def _order(cls: str, table: pa.Table, ns: list[int], days: list[Any]) -> list[str]:
    """Rows sorted as the objects keep them (time, then the later line first), and
    `days` (event day, first row, rows) cutting them into whole days, in order."""
    times = table["time"].to_pylist()
    keys = [(t, -n) for t, n in zip(times, ns, strict=False)]
    out = [] if keys == sorted(keys) else [f"{cls}: rows not sorted by time, later line first"]
    spans = [(d, first, first + rows) for d, first, rows in days]
    if [s for _, s, _ in spans] != [0, *[e for _, _, e in spans][:-1]] or (
        spans and spans[-1][2] != len(times)
    ):
        out.append(f"{cls}: days {days} do not cut {len(times)} rows")
    for day, start, end in spans:
        bad = [n for t, n in zip(times[start:end], ns[start:end], strict=False) if t // DAY != day]
        if bad:
            out.append(f"{cls}: lines {bad[:10]} are not of day {day}")
    if [d for d, _, _ in spans] != sorted({d for d, _, _ in spans}):
        out.append(f"{cls}: days {days} repeat or are out of order")
    return out


def compare(nd: bytes) -> Any:
    """`native.map_object(nd)`, checked line by line; returns it."""
    from connector.ocsf import native

    mapped = native.map_object(nd)
    found = problems(nd, mapped)
    assert not found, f"{len(found)} differences:\n" + "\n".join(found[:40])
    return mapped


def share(mapped: Any, nd: bytes) -> float:
    """The fraction of the lines mapped natively (not handed back)."""
    total = nd.count(b"\n") + (0 if nd.endswith(b"\n") or not nd else 1)
    return 1 - len(mapped.fallback) / total
