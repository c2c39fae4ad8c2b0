"""The `p_any_*` standard fields, read from the fields a schema marks as indicators.

Every written record is searched for indicators, so this runs a million times in a large
backfill. Walking the paths generically (a loop per kind, per path, per key, with type
checks) cost 5.5 µs an event; the paths are fixed when a log type is defined, so they are
turned once into one straight-line function that shares the lookups of common prefixes
(`actor.user` once for its name and email): 2.5 µs.

The function runs on validated records only, so every object on a path (a nested model)
is a dict or null, and `or EMPTY` is the only guard a lookup needs.
"""

from __future__ import annotations

import functools
import socket
from collections.abc import Callable, Mapping
from typing import Any

Paths = dict[str, list[tuple[str, ...]]]
Indicators = Callable[[Mapping[str, Any], dict[str, Any]], None]

FIELDS = {
    "ip": "p_any_ip_addresses",
    "email": "p_any_emails",
    "username": "p_any_usernames",
}


@functools.lru_cache(maxsize=1 << 14)
def is_ip(value: str) -> bool:
    """Only real IP addresses become IP indicators; Slack's docs example has `1.23.45.678`."""
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, value)
        except (OSError, ValueError):
            continue
        return True
    return False


def field_name(kind: str) -> str:
    return FIELDS.get(kind) or f"p_any_{kind}s"


def compile_indicators(paths: Paths) -> Indicators:
    """`f(record, row)` sets `row[p_any_<kind>]` to the sorted unique string values found."""
    lines = ["def indicators(raw, row):"]
    names: dict[tuple[str, ...], str] = {(): "raw"}

    def node(prefix: tuple[str, ...]) -> str:
        if prefix not in names:
            parent = node(prefix[:-1])
            names[prefix] = f"n{len(names)}"
            lines.append(f"    {names[prefix]} = {parent}.get({prefix[-1]!r}) or EMPTY")
        return names[prefix]

    for kind, kind_paths in paths.items():
        check = " and is_ip(v)" if kind == "ip" else ""
        lines.append("    values = []")
        for path in kind_paths:
            lines.append(f"    v = {node(path[:-1])}.get({path[-1]!r})")
            lines.append(f"    if v and v.__class__ is str and v not in values{check}:")
            lines.append("        values.append(v)")
        lines.append("    if values:")
        lines.append("        values.sort()")
        lines.append(f"        row[{field_name(kind)!r}] = values")
    if len(lines) == 1:
        lines.append("    return None")
    namespace: dict[str, Any] = {"EMPTY": {}, "is_ip": is_ip}
    source = "\n".join(lines)
    exec(compile(source, f"<indicators {sorted(paths)}>", "exec"), namespace)  # noqa: S102
    function: Indicators = namespace["indicators"]
    function.__doc__ = source
    return function
