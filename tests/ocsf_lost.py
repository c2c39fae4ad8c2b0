"""Whether an OCSF event kept every value of the Slack record it was mapped from: each
leaf is in `unmapped` under its own path, or accounts for a placed value of its own.
Used by the mapping tests (`tests/test_ocsf_mapping.py`) on every record they map."""

from __future__ import annotations

from collections import Counter
from typing import Any

import orjson


def leaves(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """Every leaf of a record with its dotted path, as a list: two paths that read alike
    are two leaves, both to be kept. Below the top, a dict with a dotted key is one leaf:
    the mapper keeps it whole, as `{"a.b": 1, "a": {"b": 2}}` would give `a.b` twice."""
    if isinstance(value, dict) and value and not (prefix and any("." in k for k in value)):
        return [leaf for k, v in value.items() for leaf in leaves(v, f"{prefix}{k}.")]
    return [(prefix[:-1], value)]


CONSTANT = {"activity_name", "category_name", "class_name", "type_name", "severity", "status"}
CONSTANT |= {"product", "version", "profiles", "service", "type"}
"""Fields whose values the mapper writes itself (captions, the product, an object's kind),
so a Slack value equal to one by chance is not taken for placed."""


def lost(row: dict[str, Any], event: dict[str, Any]) -> list[tuple[str, Any]]:
    """The Slack leaves (p_* aside) that are neither in `unmapped`, under their own path
    and as their own JSON text, nor placed: each placed leaf must account for a value of
    its own among the event's fields (as is, as text, as epoch milliseconds, or split
    into a list), counted, so two leaves of one value need two placed values. A null is
    an absent field. A `type` that names an object placed beside it (`entity.type` =
    "file" and `entity.file.id` placed) is placed by that object's kind."""
    unmapped: dict[str, str] = event.get("unmapped", {})
    slack = leaves({k: v for k, v in row.items() if not k.startswith("p_")})
    kept: set[str] = set()
    placed = []
    for path, value in slack:
        if value is None:
            continue
        if path not in kept and unmapped.get(path) == as_text(value):
            kept.add(path)
        else:
            placed.append((path, value))
    values = Counter(mapped(event))
    out = []
    for path, value in placed:
        if implied(path, value, kept, slack) or take(values, value):
            continue
        out.append((path, value))
    return out


def as_text(value: Any) -> str:
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def mapped(value: Any, key: str = "") -> list[bytes]:
    """The JSON text of every scalar the event places outside `unmapped` (a field of JSON
    text, like evidence's `data`, opened)."""
    if key in CONSTANT or key == "unmapped":
        return []
    if isinstance(value, dict):
        return [x for k, v in value.items() for x in mapped(v, k)]
    if isinstance(value, list):
        return [x for v in value for x in mapped(v)]
    if key == "data" and isinstance(value, str):
        return mapped(orjson.loads(value))
    return [orjson.dumps(value)]


def take(values: Counter[bytes], value: Any) -> bool:
    """Whether one placed value accounts for the Slack value, using it up."""
    if isinstance(value, list) or (isinstance(value, str) and "," in value):
        parts = value if isinstance(value, list) else [v for v in value.split(",") if v]
        wanted = Counter(orjson.dumps(p) for p in parts)
        if parts and all(values[p] >= n for p, n in wanted.items()):
            values.subtract(wanted)
            return True
    for form in forms(value):
        if values[form] > 0:
            values[form] -= 1
            return True
    return False


def forms(value: Any) -> list[bytes]:
    out = [orjson.dumps(value)]
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return out
    if not isinstance(value, str):
        out.append(orjson.dumps(str(value)))
    try:
        out.append(orjson.dumps(int(float(value) * 1000)))
    except (ValueError, OverflowError):
        pass
    return out


def implied(path: str, value: Any, kept: set[str], slack: list[tuple[str, Any]]) -> bool:
    parent, _, last = path.rpartition(".")
    if last != "type" or not isinstance(value, str):
        return False
    inside = f"{parent}.{value}." if parent else f"{value}."
    return any(p.startswith(inside) and p not in kept for p, _ in slack)
