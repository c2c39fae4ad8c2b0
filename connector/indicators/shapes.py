"""The keys of the commonest value shapes, decided with Arrow kernels over many values.

`keys.value_keys` costs 1-5 µs a value in Python, and a landed row has about four values
seen for the first time (an event time, a user's email, name and IP address). The shapes
below are the common ones whose keys follow from the rules with no case left open; each
says why it gives exactly what `keys.value_keys` gives. Every other value is left to
`keys.value_keys` itself (`Keys.rest`). `tests/test_object_keys.py` holds the two equal.

- *no key*: a `:` but no `@`, no `://` and not IP-shaped (event times), or none of `.`,
  `:`, `@` and not a Slack id: no rule can apply (an IP needs `.` or `:` and the IP
  shape, an email `@`, a domain `.` and no `:`, a URL `://`, a Slack id its shape);
- *IPv4*: dotted decimal as `ipaddress` reads it (no leading zeros, octets <= 255): only
  `ip4:` (a domain's last label starts with a letter);
- *Slack id*: only `uid:` (no `.`, `:`, `@`);
- *dotted*: a `.`, no `:`, no `@`, not IPv4: only `dom:` of the ASCII-folded value less
  one final `.`, when that is a domain name;
- *plain email*: no `@`, `"` or white space (as Python's `\\s` means it), `@`, a domain
  name (when folded), at most 253 bytes, no `:`: `email:` of the folded value (ASCII
  letters lower-cased, as `match.fold`) and `dom:` of its domain.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from connector.indicators import match

_OCTET = "(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])"
IPV4 = f"^{_OCTET}(?:\\.{_OCTET}){{3}}$"
SPACE = (
    "\\x{9}-\\x{d}\\x{1c}-\\x{20}\\x{85}\\x{a0}\\x{1680}\\x{2000}-\\x{200a}"
    "\\x{2028}\\x{2029}\\x{202f}\\x{205f}\\x{3000}"
)
"""Python's `\\s` (Unicode white space; RE2's is ASCII only), as the inside of an RE2
class: tests/test_object_keys.py checks it against `re`."""
EMAIL = f'^[^@"{SPACE}]+@{match.DOMAIN_NAME}$'
"""`match.is_email` of a folded value without `:` whose domain is a domain name."""
DOMAIN = f"^{match.DOMAIN_NAME}$"
_HEX = pa.array([f"{i:02x}" for i in range(256)], pa.string())


@dataclass
class Keys:
    of: Any
    """For each key in `keys`, the index of the value it is a key of."""
    keys: pa.Array
    rest: Any
    """Indexes of the values for `keys.value_keys`."""


def shaped(values: pa.Array) -> Keys:
    """The keys of `values` whose shape decides them."""
    colon = _has(values, ":")
    at = _has(values, "@")
    dot = _has(values, ".")
    scheme = colon & _has(values, "://")
    folded = pc.ascii_lower(values)
    ipv4 = _matches(values, IPV4, dot & ~colon & ~at)
    dotted = dot & ~colon & ~at & ~ipv4
    email = _matches(folded, EMAIL, at & ~colon & (pc.binary_length(values).to_numpy() <= 253))
    ident = _matches(values, f"^{match.SLACK_ID}$", ~dot & ~colon & ~at)
    ip_like = _matches(values, f"^{match.IP_LIKE}$", colon & ~at & ~scheme)
    none = (colon & ~at & ~scheme & ~ip_like) | (~dot & ~colon & ~at & ~ident)

    of: list[Any] = []
    out: list[pa.Array] = []
    _add(of, out, ipv4, _ip4(values.filter(pa.array(ipv4))))
    _add(of, out, ident, _prefixed("uid:", values.filter(pa.array(ident))))
    where = np.flatnonzero(dotted)
    name = pc.replace_substring_regex(folded.take(pa.array(where)), r"\.$", "")
    ok = _matches(name, DOMAIN) & (pc.utf8_length(name).to_numpy() <= 253)
    _add(of, out, where[ok], _prefixed("dom:", name.filter(pa.array(ok))))
    mails = folded.filter(pa.array(email))
    _add(of, out, email, _prefixed("email:", mails))
    domains = pc.list_element(pc.split_pattern(mails, "@"), 1)
    _add(of, out, email, _prefixed("dom:", domains))
    known = none | ipv4 | ident | dotted | email
    return Keys(
        np.concatenate(of).astype(np.int64),
        pa.concat_arrays(out),
        np.flatnonzero(~known),
    )


def _has(values: pa.Array, text: str) -> Any:
    return pc.match_substring(values, text).to_numpy(zero_copy_only=False)


def _matches(values: pa.Array, pattern: str, where: Any = None) -> Any:
    """Which values match `pattern` (only those `where` says are asked; others False)."""
    if where is None:
        return pc.match_substring_regex(values, pattern).to_numpy(zero_copy_only=False)
    out = np.zeros(len(values), bool)
    asked = values.filter(pa.array(where))
    out[where] = pc.match_substring_regex(asked, pattern).to_numpy(zero_copy_only=False)
    return out


def _prefixed(prefix: str, values: pa.Array) -> pa.Array:
    return pc.binary_join_element_wise(pa.scalar(prefix), values, "")


def _ip4(values: pa.Array) -> pa.Array:
    octets = pc.cast(pc.split_pattern(values, ".").flatten(), pa.int64()).to_numpy()
    parts = [_HEX.take(pa.array(octets[i::4])) for i in range(4)]
    return pc.binary_join_element_wise(pa.scalar("ip4:"), *parts, "")


def _add(of: list[Any], out: list[pa.Array], which: Any, keys: pa.Array) -> None:
    where = np.flatnonzero(which) if which.dtype == bool else which
    of.append(where)
    out.append(keys.cast(pa.string()))
