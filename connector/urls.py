"""Rules for URLs that carry or lead to secrets.

A bearer token, client secret or webhook URL sent over plain http travels in clear text,
so Slack, OAuth and alert URLs must be https; plain http is allowed only for loopback
hosts, where tests and local fakes run. A webhook URL *is* a secret, and so is each part
of it: a server that echoes the request path in an error body must not put the path
into a log line.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
_MIN_SEGMENT = 12
"""Path segments this long are redacted on their own (Slack webhook tokens are 24
characters); shorter ones such as `services` or `webhook` are ordinary words."""


def is_loopback(url: str) -> bool:
    return (urlsplit(url).hostname or "") in LOOPBACK_HOSTS


def require_https(url: str) -> str:
    """`url` unchanged, or ValueError when it is not https (http only on loopback)."""
    split = urlsplit(url)
    if split.scheme == "https" and split.hostname:
        return url
    if split.scheme == "http" and split.hostname and is_loopback(url):
        return url
    raise ValueError(
        "must be an https URL (plain http only for 127.0.0.1, localhost or ::1): "
        "a token must not travel in clear text"
    )


def secret_parts(value: str) -> list[str]:
    """The parts of a secret URL that must be redacted on their own: the path, each long
    path segment, the query string and its values, and any password. Not a URL: []."""
    try:
        split = urlsplit(value.strip())
    except ValueError:
        return []
    if not split.scheme or not split.netloc:
        return []
    parts: list[str] = []
    if split.path not in ("", "/"):
        parts.append(split.path)
        parts.extend(s for s in split.path.split("/") if len(s) >= _MIN_SEGMENT)
    if split.query:
        parts.append(split.query)
        parts.extend(v for _, v in parse_qsl(split.query) if len(v) >= 8)
    if split.password:
        parts.append(split.password)
    return parts
