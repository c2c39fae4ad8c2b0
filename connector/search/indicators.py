"""What an analyst's indicator means, and whether a landed row matches it.

One definition serves the CLI search, the slash command and the watchlist: DuckDB only
narrows the rows with `prefilter` (a cheap case-insensitive scan of the raw line), and
`matches` decides on the parsed row, so the three can never disagree.

Kinds: an IP address or CIDR range (v4 or v6) against `p_any_ip_addresses`; an email
against `p_any_emails` (case-insensitive); a user (a Slack id such as `U0123ABCD` or a
username) against `p_any_usernames` and every string value of the record; free text
against the raw JSON line, case-insensitive and as it is written there (a quote is `\\"`).
`ip:`, `email:`, `user:` and `text:` force a kind.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import orjson

Kind = Literal["ip", "email", "user", "text"]
KINDS: tuple[Kind, ...] = ("ip", "email", "user", "text")
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_SLACK_ID = re.compile(r"^[UWB][A-Z0-9]{6,}$")
MAX_LENGTH = 256


class IndicatorError(ValueError):
    """An indicator that cannot be searched for, phrased for the analyst."""


@dataclass(frozen=True)
class Indicator:
    kind: Kind
    value: str
    """Canonical form: a network's `with_prefixlen`, lower-case email, text as given."""
    network: Network | None = None

    def __str__(self) -> str:
        return self.value

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.value}"

    @property
    def needle(self) -> str:
        """Lower-case text every matching raw JSON line contains, or "" when none is known.

        IPv6 addresses have several spellings, so they have no needle: only the parsed
        `p_any_ip_addresses` decide.
        """
        if self.network is not None:
            return _network_literal(self.network) if self.network.version == 4 else ""
        if self.kind == "user":
            return _json(self.value).lower()
        return _json(self.value)[1:-1].lower()

    def prefilter(self) -> str:
        """An RE2 pattern every matching raw line contains; "" admits every line.

        Case-insensitive only when the needle has letters: RE2 finds a plain literal
        (an IP address) far faster.

        A single IPv6 address is looked for in the compressed form Slack writes, so the
        DuckDB scan stays cheap; a range of them admits every line.
        """
        needle = self.needle
        if not needle and self.network is not None and self.network.num_addresses == 1:
            needle = _json(str(self.network.network_address))
        if not needle:
            return ""
        literal = re.escape(needle)
        return f"(?i:{literal})" if needle != needle.upper() else literal

    def matches(self, row: Mapping[str, Any], line: str) -> bool:
        """The exact rule, on a parsed row and its raw JSON line."""
        if self.network is not None:
            return any(_in(ip, self.network) for ip in _strings(row.get("p_any_ip_addresses")))
        if self.kind == "email":
            return any(e.lower() == self.value for e in _strings(row.get("p_any_emails")))
        if self.kind == "user":
            folded = self.value.lower()
            if any(u.lower() == folded for u in _strings(row.get("p_any_usernames"))):
                return True
            return any(v == self.value for v in _values(row))
        return self.needle in line.lower()


def parse(text: str) -> Indicator:
    """Read one indicator as an analyst types it; raises `IndicatorError`."""
    text = text.strip()
    if not text:
        raise IndicatorError("an indicator cannot be empty")
    if len(text) > MAX_LENGTH:
        raise IndicatorError(f"an indicator is at most {MAX_LENGTH} characters")
    forced, _, rest = text.partition(":")
    if forced in KINDS and rest.strip():
        value = rest.strip()
        if forced == "user" and not _SLACK_ID.match(value):
            value = "@" + value.removeprefix("@")
        return _of_kind(forced, value)
    for kind in ("ip", "email", "user"):
        try:
            return _of_kind(kind, text)
        except IndicatorError:
            continue
    return Indicator("text", text)


def read_file(path: str) -> list[Indicator]:
    """One indicator a line, `#` starts a comment; raises `IndicatorError` or `OSError`."""
    out = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        item = line.split("#", 1)[0].strip()
        if item:
            try:
                out.append(parse(item))
            except IndicatorError as exc:
                raise IndicatorError(f"{path} line {number}: {exc}") from None
    return out


def _of_kind(kind: Kind, value: str) -> Indicator:
    if not value:
        raise IndicatorError(f"{kind}: needs a value")
    if kind == "ip":
        try:
            network = ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise IndicatorError(f"{value!r} is not an IP address or CIDR range") from None
        single = network.num_addresses == 1
        return Indicator("ip", str(network.network_address) if single else str(network), network)
    if kind == "email":
        if not _EMAIL.match(value):
            raise IndicatorError(f"{value!r} is not an email address")
        return Indicator("email", value.lower())
    if kind == "user":
        if not (_SLACK_ID.match(value) or (value.startswith("@") and len(value) > 1)):
            raise IndicatorError(f"{value!r} is not a Slack user id (U..., W...) or @username")
        return Indicator("user", value.removeprefix("@"))
    return Indicator("text", value)


def _network_literal(network: Network) -> str:
    """How every address of an IPv4 network starts in JSON, as far as whole octets go."""
    if network.num_addresses == 1:
        return _json(str(network.network_address))
    octets = str(network.network_address).split(".")[: network.prefixlen // 8]
    return '"' + "".join(o + "." for o in octets) if octets else ""


def _json(value: str) -> str:
    return orjson.dumps(value).decode()


def _in(value: str, network: Network) -> bool:
    try:
        return ipaddress.ip_address(value) in network
    except ValueError:
        return False


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, list):
        yield from (v for v in value if isinstance(v, str))


def _values(node: Any) -> Iterator[str]:
    """Every string value in a record, however deep."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, Mapping):
        for value in node.values():
            yield from _values(value)
    elif isinstance(node, list):
        for value in node:
            yield from _values(value)
