"""How an IP address or range can be spelled in a landed JSON line, for the text scans
that narrow a search before rows are parsed (`match.Indicator.prefilter` and `needle`):
the JSON prefix every address of an IPv4 range starts with, a group every spelling of an
IPv6 range writes, and an RE2 pattern for every spelling of one IPv6 address.
"""

from __future__ import annotations

import ipaddress
import re

import orjson

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def network_literal(network: Network) -> str:
    """How every address of an IPv4 network starts in JSON, as far as whole octets go."""
    if network.num_addresses == 1:
        return orjson.dumps(str(network.network_address)).decode()
    octets = str(network.network_address).split(".")[: network.prefixlen // 8]
    return '"' + "".join(o + "." for o in octets) if octets else ""


def ipv6_group(network: Network) -> str:
    """A non-zero 16-bit group the range fixes, lower-case without leading zeros: every
    spelling of every address in it writes that group (the last two groups may be written
    as dotted IPv4, so they are not used). The last one of two digits or more, since the
    first ones (`2001`, `db8`) are shared by most addresses and admit too many lines."""
    groups = network.network_address.exploded.split(":")[: min(6, network.prefixlen // 16)]
    fixed = [(len(g) > 1, i, g) for i, g in enumerate(x.lstrip("0") for x in groups) if g]
    return max(fixed)[2] if fixed else ""


def ipv6_spellings(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """An RE2 pattern for every way one IPv6 address can be written as a JSON value:
    groups with or without leading zeros, in either case, one run of zero groups written
    as `::` (or none), the last 32 bits as hex groups or as dotted IPv4."""
    groups = [int(g, 16) for g in address.exploded.split(":")]
    v4 = ipaddress.IPv4Address((groups[6] << 16) | groups[7])
    forms = [_compressions([_hex(g) for g in groups])]
    forms.append(_compressions([_hex(g) for g in groups[:6]], tail=re.escape(str(v4))))
    return '"(?i:' + "|".join(alt for form in forms for alt in form) + ')"'


def _hex(group: int) -> str:
    if group == 0:
        return "0{1,4}"
    digits = f"{group:x}"
    return digits if len(digits) == 4 else f"0{{0,{4 - len(digits)}}}{digits}"


def _compressions(parts: list[str], tail: str = "") -> list[str]:
    """Every way of writing the groups with at most one run of zero groups as `::`."""
    out = [":".join(parts + ([tail] if tail else []))]
    n = len(parts)
    zero = [p == "0{1,4}" for p in parts]
    for start in range(n):
        for end in range(start + 1, n + 1):
            if not all(zero[start:end]):
                break
            head, rest = ":".join(parts[:start]), ":".join(parts[end:])
            if tail:
                rest = f"{rest}:{tail}" if rest else tail
            out.append(f"{head}::{rest}")
    return out
