"""Indicators in an analyst's free text: a pasted list or a report.

Analysts paste indicators as they share them, often defanged so nothing is clickable:
`hxxps://evil[.]example/x`, `10.0.0[.]1`, `bob[@]example.com`. The text is refanged
first, then candidates are found by pattern and each is handed to `indicators.parse`,
the one definition of what an indicator is; a candidate it refuses is not one.

Candidates are taken in a fixed order, URLs, emails, IPv6 and IPv4 addresses or ranges,
Slack user ids (with digits, as Slack issues them, or a `<@U...>` mention), then
domains, and the text a candidate covers is masked, so the domain inside a URL or an
email, or the address in a URL, is not a second indicator. A bare word such as
`readme.txt` is not taken as a domain (a file name is far likelier there), unless it
was defanged, which only a domain ever is.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from connector.indicators.match import REFANG, Indicator, IndicatorError, parse

_SCHEME = re.compile(r"\b(?:hxxp(s?)|fxp)(?=\[?:)", re.IGNORECASE)
_IN_TEXT = tuple((p, r) for p, r in REFANG if not p.pattern.startswith("^"))
"""The parser's own defangings, except those anchored to the start of an indicator,
which `_SCHEME` finds anywhere in a text."""

_URL = re.compile(r"\b(?:https?|ftp)://[^\s<>\"'`|]+", re.IGNORECASE)
_EMAIL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._%+-]*@(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,63}\b")
_IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?:/\d{1,2})?(?![\w.]*\w)")
_IPV6 = re.compile(
    r"(?<![\w:.])(?=[0-9A-Fa-f:.]*[0-9A-Fa-f])(?=[0-9A-Fa-f.]*:[0-9A-Fa-f.]*:)"
    r"[0-9A-Fa-f:.]{2,45}(?:/\d{1,3})?(?![\w:])"
)
_MENTION = re.compile(r"<@([UW][A-Z0-9]{6,})(?:\|[^>]*)?>")
_USER_ID = re.compile(r"(?<![\w@])[UW](?=[A-Z]*\d)[A-Z0-9]{6,}(?![\w@])")
_DOMAIN = re.compile(
    r"(?<![\w.@-])(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}(?![\w@-])"
)
_TRAILING = ".,;:!?)]}>'\""
FILE_SUFFIXES = frozenset(
    "bat bin cfg conf csv dat dll doc docx exe gz htm html ini jar jpg jpeg js json log md "
    "msi pdf png ppt pptx ps1 py rar rb sh sql svg tar tmp toml txt vbs xls xlsx xml yaml "
    "yml zip".split()
)
"""Suffixes that make a bare word a file name, not a domain."""


def refang(text: str) -> str:
    """`indicators.refang`, applied anywhere in a text rather than to one indicator."""
    text = _SCHEME.sub(_scheme, text)
    for pattern, replacement in _IN_TEXT:
        text = pattern.sub(replacement, text)
    return text


def _scheme(match: re.Match[str]) -> str:
    if match.group(0).lower() == "fxp":
        return "ftp"
    return "https" if match.group(1) else "http"


def _url(match: re.Match[str]) -> str:
    value = match.group(0)
    while value and value[-1] in _TRAILING:
        if value[-1] == ")" and value.count("(") >= value.count(")"):
            break
        value = value[:-1]
    return value


def _domain(match: re.Match[str], original: str) -> str:
    value = match.group(0)
    if value.rsplit(".", 1)[-1].lower() in FILE_SUFFIXES and refang(original) == original:
        return ""
    return value


Finder = tuple[str, re.Pattern[str], Callable[[re.Match[str]], str]]
FINDERS: tuple[Finder, ...] = (
    ("url", _URL, _url),
    ("email", _EMAIL, lambda m: m.group(0)),
    ("ip", _IPV6, lambda m: m.group(0).rstrip(".")),
    ("ip", _IPV4, lambda m: m.group(0)),
    ("user", _MENTION, lambda m: m.group(1)),
    ("user", _USER_ID, lambda m: m.group(0)),
)
"""In order of precedence; domains come last, see `_candidates`."""


def _candidates(text: str) -> Iterator[tuple[int, str, str]]:
    """(position, kind, value) in the refanged text, each span taken once."""
    words = _original_words(text)
    fanged = refang(text)
    taken = bytearray(len(fanged))
    found: list[tuple[int, str, str]] = []

    def free(start: int, end: int) -> bool:
        return not any(taken[start:end])

    for kind, pattern, value_of in FINDERS:
        for match in pattern.finditer(fanged):
            value = value_of(match)
            end = match.start() + len(value)
            if value and free(match.start(), end):
                taken[match.start() : end] = b"\x01" * (end - match.start())
                found.append((match.start(), kind, value))
    for match in _DOMAIN.finditer(fanged):
        original = _word_at(words, match.start())
        value = _domain(match, original)
        if value and free(match.start(), match.end()):
            found.append((match.start(), "domain", value))
    yield from sorted(found)


def _original_words(text: str) -> dict[int, str]:
    """Each refanged word's start, mapped to the word as written (defanged or not)."""
    out: dict[int, str] = {}
    shift = 0
    for match in re.finditer(r"\S+", text):
        word = match.group(0)
        out[match.start() - shift] = word
        shift += len(word) - len(refang(word))
    return out


def _word_at(words: dict[int, str], at: int) -> str:
    starts = [s for s in words if s <= at]
    return words[max(starts)] if starts else ""


def extract(text: str) -> list[Indicator]:
    """Every indicator in free text, refanged and parsed, once each in the order first
    seen. A candidate the parser refuses (`12:30:45` looks like IPv6) is not one."""
    seen: dict[str, Indicator] = {}
    for _, kind, value in _candidates(text):
        try:
            indicator = parse(f"{kind}:{value}")
        except IndicatorError:
            continue
        seen.setdefault(indicator.label, indicator)
    return list(seen.values())


_SEPARATORS = re.compile(r"[\s,;]+")


def extract_list(text: str) -> tuple[list[Indicator], list[str]]:
    """A pasted list, one or more indicators a line (or comma-separated): what was found,
    and the entries in which nothing was, for the analyst to see.

    An entry the patterns miss is still given to the parser as typed, so `@alice`,
    `user:alice` or `ip:10.0.0.1` work as they do in `/seclogs search`; an entry the
    parser reads only as free text is not an indicator, and neither is one it reads as a
    domain unless the analyst said so (`domain:readme.txt`): the patterns have already
    judged `readme.txt`, `Node.js` and `invoice.pdf` file names, as a report's are.
    """
    seen: dict[str, Indicator] = {}
    nothing: dict[str, None] = {}
    for entry in _SEPARATORS.split(text):
        if not entry.strip(_TRAILING + "([{<"):
            continue
        found = extract(entry)
        if not found:
            try:
                typed = parse(refang(entry))
            except IndicatorError:
                typed = None
            found = [typed] if typed is not None and _typed(typed, entry) else []
        for indicator in found:
            seen.setdefault(indicator.label, indicator)
        if not found:
            nothing[entry] = None
    return list(seen.values()), list(nothing)


def _typed(indicator: Indicator, entry: str) -> bool:
    if indicator.kind == "text":
        return False
    return indicator.kind != "domain" or entry.strip().lower().startswith("domain:")
