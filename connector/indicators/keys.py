"""Index keys: what a landed row can be found by, and what an indicator looks up.

The same rule as `match.Indicator.matches`, turned around so an index can answer it: every
string value of a row gives the keys of the indicators it *is* (`value_keys`), and an
indicator gives the keys (or, for an IP range, the key range) that such a value has
(`lookup`). A row matches an indicatable indicator exactly when one of its keys is looked
up, so a count from the index is the count `matches` would give; the property test in
`tests/test_search_index.py` holds the two to that.

- ip: `ip4:` or `ip6:` and the address as fixed-width hex, so a CIDR range is one key
  range however the address was spelled;
- email: `email:` and the value ASCII-folded, when it is an email address;
- domain: `dom:` and `_domain_of(value)` (the value, an email's domain, a URL's host) when
  that is a domain name;
- url: `url:` and the canonical URL (`_url_key`);
- Slack user id: `uid:` and the value when it is one, and `uname:` and every
  `p_any_usernames` entry lower-cased.

Text and `@username` indicators have no key (a substring, or any value equal to a name):
they are scanned.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from connector.indicators import match

CACHE_MAX = 1 << 16
"""Distinct values remembered with their keys: actors, IPs, emails and domains repeat from
row to row, so most values cost one dict lookup."""

_cache: dict[str, tuple[str, ...]] = {}


@dataclass(frozen=True)
class Lookup:
    """What an indicator finds in an index: rows with one of `keys`, or a key between
    `low` and `high` (both inclusive) when `low` is set."""

    keys: tuple[str, ...] = ()
    low: str = ""
    high: str = ""


def lookup(indicator: match.Indicator) -> Lookup | None:
    """The keys of the rows `indicator` matches, or None when an index cannot say."""
    network = indicator.network
    if network is not None:
        low, high = _ip_key(network.network_address), _ip_key(network.broadcast_address)
        return Lookup((low,)) if low == high else Lookup(low=low, high=high)
    value = indicator.value
    if indicator.kind == "email":
        return Lookup((f"email:{value}",))
    if indicator.kind == "domain":
        return Lookup((f"dom:{value}",))
    if indicator.kind == "url":
        return Lookup((f"url:{match.url_key(value)}",))
    if indicator.kind == "user" and match.is_slack_id(value):
        return Lookup((f"uid:{value}", username_key(value)))
    return None


def row_keys(row: Mapping[str, Any]) -> set[str]:
    """Every key of one parsed row."""
    keys: set[str] = set()
    cache = _cache
    stack: list[Any] = [row]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            values: Iterable[Any] = node.values()
        else:
            values = node
        for value in values:
            if value.__class__ is str:
                found = cache.get(value)
                if found is None:
                    if _plain(value):
                        continue
                    found = _remember(value)
                if found:
                    keys.update(found)
            elif isinstance(value, dict | list):
                stack.append(value)
    names = row.get("p_any_usernames")
    if isinstance(names, list):
        keys.update(username_key(n) for n in names if isinstance(n, str))
    return keys


def username_key(name: str) -> str:
    """The key of one `p_any_usernames` entry."""
    return f"uname:{name.lower()}"


def value_keys(value: str) -> tuple[str, ...]:
    """The keys of one string value (see the module's docstring)."""
    out: list[str] = []
    if ("." in value or ":" in value) and match.ip_like(value):
        try:
            out.append(_ip_key(ipaddress.ip_address(value)))
        except ValueError:
            pass
    if "@" in value and match.is_email(value):
        out.append(f"email:{match.fold(value)}")
    if "." in value:
        domain = match.domain_of(value)
        if domain and match.is_domain(domain):
            out.append(f"dom:{domain}")
    if "://" in value:
        url = match.url_key(value)
        if url:
            out.append(f"url:{url}")
    if match.is_slack_id(value):
        out.append(f"uid:{value}")
    return tuple(out)


def remembered(value: str) -> tuple[str, ...]:
    """`value_keys`, looked up in the cache of values seen before (and remembered)."""
    found = _cache.get(value)
    return found if found is not None else _remember(value)


def _plain(value: str) -> bool:
    """A value `value_keys` gives nothing without looking further (an id, a word): not
    remembered, so one-off values do not push the ones that repeat out of the cache."""
    return "." not in value and ":" not in value and "@" not in value and value[:1] not in "UWB"


def _remember(value: str) -> tuple[str, ...]:
    if len(_cache) >= CACHE_MAX:
        _cache.clear()
    found = _cache[value] = value_keys(value)
    return found


def _ip_key(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    if address.version == 4:
        return f"ip4:{int(address):08x}"
    return f"ip6:{int(address):032x}"


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICRO = timedelta(microseconds=1)


def micros(value: Any) -> int | None:
    """An event time as integer microseconds (exact, no float), or None: a row without
    one is in no window, so it has no keys."""
    try:
        return (datetime.fromisoformat(str(value)).astimezone(UTC) - EPOCH) // MICRO
    except ValueError:
        return None
