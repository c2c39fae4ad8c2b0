"""A validator for OCSF events against the vendored compiled schema
(`schemas/ocsf/<version>.json`, see `schemas/ocsf/vendor.py`), independent of the mapper:
attributes the class or object has, required ones present, `at_least_one`/`just_one`
constraints, types (with their regexes and IPs), enums, and class, category, type and
activity uids and names that agree.
"""

from __future__ import annotations

import ipaddress
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

SCHEMAS = Path(__file__).resolve().parent.parent / "schemas" / "ocsf"


@cache
def schema(version: str = "1.1.0") -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SCHEMAS / f"{version}.json").read_text())
    return loaded


def validate(event: dict[str, Any], version: str = "1.1.0") -> list[str]:
    """Every way the event breaks the schema; empty when it validates."""
    s = schema(version)
    classes = {c["uid"]: c for c in s["classes"].values()}
    cls = classes.get(event.get("class_uid"))
    if cls is None:
        return [f"class_uid {event.get('class_uid')!r} is not a vendored class"]
    profiles = event.get("metadata", {}).get("profiles") or []
    errors = [
        f"{name}: the {attr['profile']} profile's, not claimed in metadata.profiles"
        for name, attr in cls["attributes"].items()
        if attr.get("profile") and attr["profile"] not in profiles and name in event
    ]
    errors += _object(event, cls, "", s)
    activity = event.get("activity_id")
    if event.get("type_uid") != cls["uid"] * 100 + (activity if isinstance(activity, int) else 0):
        errors.append(f"type_uid {event.get('type_uid')} is not class_uid*100+activity_id")
    if event.get("category_uid") != cls["uid"] // 1000:
        errors.append(f"category_uid {event.get('category_uid')} does not match the class")
    if event.get("class_name") not in (None, cls["caption"]):
        errors.append(f"class_name {event.get('class_name')!r} is not {cls['caption']!r}")
    if event.get("metadata", {}).get("version") != version:
        errors.append("metadata.version is not the schema's")
    return errors


def _object(value: Any, spec: dict[str, Any], at: str, s: dict[str, Any]) -> list[str]:
    if not isinstance(value, dict):
        return [f"{at or '.'}: expected an object"]
    attributes = spec["attributes"]
    errors = [f"{at}{k}: not an attribute" for k in value if k not in attributes]
    for name, attr in attributes.items():
        if attr.get("requirement") == "required" and value.get(name) is None:
            errors.append(f"{at}{name}: required")
    for rule, names in (spec.get("constraints") or {}).items():
        present = [n for n in names if value.get(n) is not None]
        if rule == "at_least_one" and not present:
            errors.append(f"{at or '.'}: needs one of {names}")
        if rule == "just_one" and len(present) != 1:
            errors.append(f"{at or '.'}: needs exactly one of {names}")
    for name, item in value.items():
        attr = attributes.get(name)
        if attr is None or item is None:
            continue
        where = f"{at}{name}"
        if attr.get("is_array"):
            if not isinstance(item, list):
                errors.append(f"{where}: expected an array")
                continue
            for i, element in enumerate(item):
                errors += _value(element, attr, f"{where}[{i}]", s)
        else:
            errors += _value(item, attr, where, s)
        sibling = attr.get("sibling")
        enum = attr.get("enum")
        if sibling and enum and value.get(sibling) is not None and item != 99:
            caption = enum.get(str(item), {}).get("caption")
            if caption and value[sibling] != caption and name != "activity_id":
                errors.append(f"{at}{sibling}: {value[sibling]!r} is not {caption!r}")
            if name == "activity_id" and caption and value[sibling] != caption:
                errors.append(f"{at}{sibling}: {value[sibling]!r} is not {caption!r}")
    return errors


def _value(item: Any, attr: dict[str, Any], where: str, s: dict[str, Any]) -> list[str]:
    kind = attr["type"]
    if kind in s["objects"]:
        if kind == "object":
            return [] if isinstance(item, dict) else [f"{where}: expected an object"]
        return _object(item, s["objects"][kind], f"{where}.", s)
    errors = _scalar(item, kind, where, s)
    enum = attr.get("enum")
    if enum and not errors and str(item) not in enum:
        errors.append(f"{where}: {item!r} not in the enum")
    return errors


def _scalar(item: Any, kind: str, where: str, s: dict[str, Any]) -> list[str]:
    spec = s["types"].get(kind, {})
    base = spec.get("type") or kind
    checks = {
        "integer_t": lambda v: (
            isinstance(v, int) and not isinstance(v, bool) and -(2**31) <= v < 2**31
        ),
        "long_t": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "float_t": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "boolean_t": lambda v: isinstance(v, bool),
        "string_t": lambda v: isinstance(v, str),
        "json_t": lambda v: True,
    }
    if not checks.get(base, checks["string_t"])(item):
        return [f"{where}: {item!r} is not {kind}"]
    if kind == "ip_t":
        try:
            ipaddress.ip_address(item)
        except ValueError:
            return [f"{where}: {item!r} is not an IP"]
    regex = spec.get("regex")
    if regex and isinstance(item, str) and not re.match(regex, item):
        return [f"{where}: {item!r} does not match {kind}"]
    return []
