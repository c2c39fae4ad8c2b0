"""What an analyst's indicator means, and whether a landed row matches it.

One definition serves the CLI search, the slash command, the watchlist and the
extraction from free text: DuckDB only narrows the rows with `prefilter` (an RE2 scan of
the raw line that admits every spelling of a match), the watchlist with `needle`, and
`matches` decides on the parsed row, so they can never disagree.

A row matches when the indicator is a *whole value anywhere in it*, not only in the
fields the schema marks as indicators (`p_any_*` are the fast path, not the definition):

- ip: an IP address or CIDR range (v4 or v6); any string value that is an address in it,
  however spelled (`2001:DB8:0::42` is `2001:db8::42`);
- email and domain: a string value equal to it, ASCII letters in either case; a domain
  is also the part after `@` of an email value and the host of a URL value;
- url: a string value equal to it once scheme and host are lower-cased (`http://a.b` is
  `HTTP://A.B/`);
- user: a Slack id (`U0123ABCD`) or `@username`, against `p_any_usernames` (any case)
  and every string value;
- text: a substring of the raw JSON line, case-insensitive and as written there (a
  quote is `\\"`).

Input may be defanged as threat reports write it (`hxxp://`, `[.]`, `(.)`, `[@]`);
`ip:`, `email:`, `domain:`, `url:`, `user:` and `text:` force a kind (`text:` is taken
literally, never refanged).
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import orjson

from connector.indicators.spellings import ipv6_group, ipv6_spellings, network_literal

Kind = Literal["ip", "email", "domain", "url", "user", "text"]
KINDS: tuple[Kind, ...] = ("ip", "email", "domain", "url", "user", "text")
DETECTED: tuple[Kind, ...] = ("ip", "email", "url", "domain", "user")
"""The order `parse` tries kinds in; whatever none accepts is text."""
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_LABEL = r"(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?)"
DOMAIN_NAME = rf"(?:{_LABEL}\.)+[a-z](?:[a-z0-9-]{{0,61}}[a-z0-9])?"
SLACK_ID = "[UWB][A-Z0-9]{6,}"
IP_LIKE = "[0-9A-Fa-f:.]{2,45}"
"""Shapes a whole value has (a domain name also at most 253 characters long), in syntax
`re` and RE2 read alike: `shapes` applies them with Arrow's RE2 too."""
_DOMAIN = re.compile(rf"^(?=.{{1,253}}$){DOMAIN_NAME}$")
_EMAIL = re.compile(r"^[^@\s\"]+@[^@\s\"]+\.[^@\s\"]+$")
_URL = re.compile(r"^[a-z][a-z0-9+.-]*://[^\s/?#\"]+[^\s\"]*$", re.IGNORECASE)
_SLACK_ID = re.compile(f"^{SLACK_ID}$")
_PORT = re.compile(r":\d*$")
_IP_LIKE = re.compile(f"^{IP_LIKE}$")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
MAX_LENGTH = 256
FAST_PATH: dict[Kind, str] = {
    "ip": "p_any_ip_addresses",
    "email": "p_any_emails",
    "domain": "p_any_emails",
}
"""The schema's indicator set that usually holds a match: looked at before the walk
over every value, which then runs only for rows that hold it elsewhere, or not at all."""

REFANG: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^hxxp(s?)(?=\[?:)", re.IGNORECASE), r"http\1"),
    (re.compile(r"^fxp(?=\[?:)", re.IGNORECASE), "ftp"),
    (re.compile(r"\[(:|://)\]"), r"\1"),
    (re.compile(r"\[\.\]|\(\.\)|\{\.\}|\[dot\]|\(dot\)", re.IGNORECASE), "."),
    (re.compile(r"\[@\]|\(@\)|\[at\]|\(at\)", re.IGNORECASE), "@"),
)
"""Defanged spellings threat reports use, and what they stand for."""


class IndicatorError(ValueError):
    """An indicator that cannot be searched for, phrased for the analyst."""


@dataclass(frozen=True)
class Indicator:
    kind: Kind
    value: str
    """Canonical form: a network's `with_prefixlen` (an address alone for one address),
    email and domain ASCII-lower-cased, a URL with lower-case scheme and host, text and
    user as given."""
    network: Network | None = None

    def __str__(self) -> str:
        return self.value

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.value}"

    @functools.cached_property
    def needle(self) -> str:
        """Text that the lower-cased (`str.lower`) raw JSON line of every matching row
        contains, or "" when none is known (then only the parsed row decides).

        IPv6 has many spellings: the needle is a whole non-zero group of the address or
        of the range's prefix, which every spelling writes (perhaps with leading zeros).
        """
        if self.network is not None:
            if self.network.version == 4:
                return network_literal(self.network)
            return ipv6_group(self.network)
        if self.kind == "user":
            return _json(self.value).lower()
        if self.kind == "url":
            return _json(_url_stem(self.value))[1:-1].lower()
        return _json(self.value)[1:-1].lower()

    def prefilter(self) -> str:
        """An RE2 pattern every matching raw line contains; "" admits every line.

        Case-insensitive only when the text has letters: RE2 finds a plain literal (an
        IPv4 address) far faster. One IPv6 address is looked for in every spelling it
        can have; an IPv6 range by a group of its prefix.
        """
        if self.network is not None and self.network.version == 6:
            if self.network.num_addresses == 1:
                return ipv6_spellings(self.network.network_address)
            group = ipv6_group(self.network)
            return f"(?i:{group})" if group else ""
        if self.kind in ("email", "domain"):
            needle = _json(self.value)[1:-1]
        elif self.kind == "url":
            needle = _json(_url_stem(self.value))[1:-1]
        else:
            needle = self.needle
        if not needle:
            return ""
        literal = re.escape(needle)
        return f"(?i:{literal})" if needle.lower() != needle.upper() else literal

    def matches(self, row: Mapping[str, Any], line: str) -> bool:
        """The exact rule, on a parsed row and its raw JSON line.

        A line without the needle is refused before the row is walked: the watchlist
        asks every indicator about each candidate line, and most of them are not in it.
        """
        needle = self.needle
        if needle and needle not in _lowered(line):
            return False
        if self.kind == "text":
            return True
        if self.kind == "user":
            folded = self.value.lower()
            if any(u.lower() == folded for u in _strings(row.get("p_any_usernames"))):
                return True
        fast = FAST_PATH.get(self.kind)
        if fast and any(self._is(v) for v in _strings(row.get(fast))):
            return True
        return any(self._is(v) for v in _values(row))

    def _is(self, value: str) -> bool:
        """Whether one string value of a row is this indicator."""
        if self.network is not None:
            return _IP_LIKE.match(value) is not None and _in(value, self.network)
        if self.kind == "email":
            return fold(value) == self.value
        if self.kind == "domain":
            return domain_of(value) == self.value
        if self.kind == "url":
            return "://" in value and url_key(value) == url_key(self.value)
        return value == self.value


def fold(text: str) -> str:
    """Lower-case ASCII letters only: what RE2's `(?i)` surely also treats as equal, so
    the prefilter can never drop a row `matches` keeps."""
    return text.translate(_ASCII_LOWER)


def refang(text: str) -> str:
    """`hxxp://evil[.]com` to `http://evil.com`: undo the defanging threat reports use."""
    for pattern, replacement in REFANG:
        text = pattern.sub(replacement, text)
    return text


def parse(text: str) -> Indicator:
    """Read one indicator as an analyst types it (defanged or not); raises `IndicatorError`."""
    text = text.strip()
    if not text:
        raise IndicatorError("an indicator cannot be empty")
    if len(text) > MAX_LENGTH:
        raise IndicatorError(f"an indicator is at most {MAX_LENGTH} characters")
    forced, _, rest = text.partition(":")
    if forced in KINDS and rest.strip():
        value = rest.strip()
        if forced == "text":
            return Indicator("text", value)
        if forced == "user" and not _SLACK_ID.match(value):
            value = "@" + value.removeprefix("@")
        return of_kind(forced, refang(value))
    plain = refang(text)
    for kind in DETECTED:
        try:
            return of_kind(kind, plain)
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


def of_kind(kind: Kind, value: str) -> Indicator:
    """`value` (already refanged) read as `kind`; raises `IndicatorError` when it is not one."""
    if not value:
        raise IndicatorError(f"{kind}: needs a value")
    return _READERS[kind](value)


def _ip(value: str) -> Indicator:
    try:
        network = ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise IndicatorError(f"{value!r} is not an IP address or CIDR range") from None
    single = network.num_addresses == 1
    return Indicator("ip", str(network.network_address) if single else str(network), network)


def _email(value: str) -> Indicator:
    if not is_email(value):
        raise IndicatorError(f"{value!r} is not an email address")
    return Indicator("email", fold(value))


def _domain(value: str) -> Indicator:
    domain = fold(value).removesuffix(".")
    if not is_domain(domain):
        raise IndicatorError(f"{value!r} is not a domain name")
    return Indicator("domain", domain)


def _url(value: str) -> Indicator:
    if not _URL.match(value):
        raise IndicatorError(f"{value!r} is not a URL (scheme://host...)")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise IndicatorError(f"{value!r} is not a URL (scheme://host...)") from None
    if not parts.hostname:
        raise IndicatorError(f"{value!r} is not a URL (scheme://host...)")
    head, rest = _url_parts(value)
    return Indicator("url", head + rest)


def _user(value: str) -> Indicator:
    if not (_SLACK_ID.match(value) or (value.startswith("@") and len(value) > 1)):
        raise IndicatorError(f"{value!r} is not a Slack user id (U..., W...) or @username")
    return Indicator("user", value.removeprefix("@"))


def _text(value: str) -> Indicator:
    return Indicator("text", value)


_READERS: dict[Kind, Callable[[str], Indicator]] = {
    "ip": _ip,
    "email": _email,
    "domain": _domain,
    "url": _url,
    "user": _user,
    "text": _text,
}


def _is_ipv4_like(text: str) -> bool:
    return all(part.isdigit() for part in text.split("."))


def ip_like(value: str) -> bool:
    """Whether a value may be an IP address (what `_is` asks before parsing one)."""
    return _IP_LIKE.match(value) is not None


def is_email(value: str) -> bool:
    """Whether a value is an email address: one an `email` indicator can equal."""
    return (
        _EMAIL.match(value) is not None and _DOMAIN.match(fold(value.rsplit("@", 1)[1])) is not None
    )


def is_domain(domain: str) -> bool:
    """Whether a folded name is a domain a `domain` indicator can be."""
    return _DOMAIN.match(domain) is not None and not _is_ipv4_like(domain)


def is_slack_id(value: str) -> bool:
    return _SLACK_ID.match(value) is not None


def _url_parts(value: str) -> tuple[str, str]:
    """`scheme://[userinfo@]host[:port]` with scheme and host lower-cased (they are
    case-insensitive), and the rest (path, query, fragment) as written; raises ValueError."""
    parts = urlsplit(value)
    userinfo, at, host = parts.netloc.rpartition("@")
    rest = value[value.index("://") + 3 + len(parts.netloc) :]
    return f"{fold(parts.scheme)}://{userinfo}{at}{fold(host)}", rest


def url_key(value: str) -> str:
    """Two URLs are one when this is equal: canonical, and an empty path is `/`."""
    try:
        head, rest = _url_parts(value)
    except ValueError:
        return ""
    return head + (rest if rest.startswith("/") else "/" + rest)


def _url_stem(canonical: str) -> str:
    """What every spelling of the URL contains: `scheme://host` alone when the path is
    `/` or none, since `a.b`, `a.b/`, `a.b?q` and `a.b/?q` are the same."""
    head, rest = _url_parts(canonical)
    return head if rest.lstrip("/")[:1] in ("", "?", "#") and rest[:2] != "//" else canonical


def domain_of(value: str) -> str:
    """The domain a value names: itself, an email's domain, or a URL's host."""
    if "://" in value:
        try:
            netloc = urlsplit(value).netloc
        except ValueError:
            return ""
        host = _PORT.sub("", netloc.rpartition("@")[2])
        return fold(host).removesuffix(".")
    if "@" in value and (" " in value or "\n" in value):
        return ""
    return fold(value.rpartition("@")[2]).removesuffix(".")


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, list):
        yield from (v for v in value if isinstance(v, str))


@functools.lru_cache(maxsize=8)
def _lowered(line: str) -> str:
    """The line lower-cased once for all the indicators asked about it."""
    return line.lower()


def _json(value: str) -> str:
    return orjson.dumps(value).decode()


def _in(value: str, network: Network) -> bool:
    try:
        return ipaddress.ip_address(value) in network
    except ValueError:
        return False


def _values(node: Any) -> Iterator[str]:
    """Every string value in a record, however deep (the `p_any_*` sets among them)."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, Mapping):
        for value in node.values():
            yield from _values(value)
    elif isinstance(node, list):
        for value in node:
            yield from _values(value)
