"""Extraction from free text: every indicator planted in random text is found, defanged
or not, and nothing else is."""

from __future__ import annotations

import ipaddress
import re

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from connector.indicators.match import parse
from connector.search.extract import FILE_SUFFIXES, extract, extract_list, refang

WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=9)
LABEL = st.from_regex(r"\A[a-z][a-z0-9]{0,7}\Z")
TLD = st.sampled_from(["com", "net", "org", "io", "example", "co", "info"])
FILE_NAME = st.builds(
    lambda name, suffix: f"{name}.{suffix}", WORD, st.sampled_from(sorted(FILE_SUFFIXES))
)
"""`readme.txt`: what a report's text does not take as a domain, nor may a pasted list."""


def defang(text: str, draw: st.DrawFn) -> str:
    """Each dot and at-sign defanged one way or another, or left alone."""
    out = []
    for ch in text:
        if ch == ".":
            out.append(draw(st.sampled_from([".", "[.]", "(.)", "{.}"])))
        elif ch == "@":
            out.append(draw(st.sampled_from(["@", "[@]", "(@)"])))
        else:
            out.append(ch)
    return "".join(out)


@st.composite
def planted(draw: st.DrawFn) -> tuple[str, str, str]:
    """(kind, canonical value, as written in the text)."""
    kind = draw(
        st.sampled_from(["ipv4", "cidr", "ipv6", "email", "user", "mention", "domain", "url"])
    )
    domain = ".".join(draw(st.lists(LABEL, min_size=1, max_size=3))) + "." + draw(TLD)
    if kind == "ipv4":
        value = str(draw(st.ip_addresses(v=4)))
        return "ip", value, defang(value, draw)
    if kind == "cidr":
        net = ipaddress.ip_network(
            f"{draw(st.ip_addresses(v=4))}/{draw(st.integers(8, 32))}", strict=False
        )
        return "ip", str(net), defang(str(net), draw)
    if kind == "ipv6":
        address = draw(st.ip_addresses(v=6).filter(lambda a: a.compressed != "::"))
        return "ip", address.compressed, address.compressed
    if kind == "email":
        value = draw(st.from_regex(r"\A[a-z0-9][a-z0-9._]{0,8}\Z")) + "@" + domain
        return "email", value, defang(value, draw)
    if kind in ("user", "mention"):
        value = draw(st.from_regex(r"\A[UW][A-Z0-9]{5,9}[0-9]\Z"))
        return "user", value, f"<@{value}>" if kind == "mention" else value
    if kind == "domain":
        return "domain", domain, defang(domain, draw)
    scheme = draw(st.sampled_from(["http", "https"]))
    path = draw(st.from_regex(r"\A(/[a-z0-9]{1,6}){0,3}(\?[a-z]=[0-9]{1,3})?\Z"))
    value = f"{scheme}://{domain}{path}"
    fanged = draw(st.sampled_from([scheme, scheme.replace("tt", "xx")]))
    return "url", value, fanged + "://" + defang(domain, draw) + path


@st.composite
def report(draw: st.DrawFn) -> tuple[str, set[str]]:
    parts: list[str] = []
    expected: set[str] = set()
    for _ in range(draw(st.integers(0, 12))):
        parts.extend(draw(st.lists(WORD, max_size=4)))
        kind, value, written = draw(planted())
        expected.add(parse(f"{kind}:{value}").label)
        wrap = draw(st.sampled_from(["{}", "({})", "{},", "{}.", "{};", "{}\n", '"{}"']))
        parts.append(wrap.format(written))
    parts.extend(draw(st.lists(WORD, max_size=4)))
    return " ".join(parts), expected


@pytest.mark.timeout(600)  # ~30 s alone; past the default 120 s on a loaded machine
@settings(max_examples=300, deadline=None)
@given(report())
def test_extraction_finds_every_planted_indicator_and_nothing_else(
    case: tuple[str, set[str]],
) -> None:
    text, expected = case
    assert {i.label for i in extract(text)} == expected


@settings(max_examples=100, deadline=None)
@given(st.lists(planted(), max_size=8), st.lists(st.one_of(WORD, FILE_NAME), max_size=4))
@example([], ["readme.txt", "Node.js", "invoice.pdf"])
def test_a_pasted_list_splits_indicators_from_what_is_not_one(
    items: list[tuple[str, str, str]], words: list[str]
) -> None:
    text = "\n".join([*(w for _, _, w in items), *words])
    found, nothing = extract_list(text)
    assert {i.label for i in found} == {parse(f"{k}:{v}").label for k, v, _ in items}
    assert nothing == list(dict.fromkeys(words))


def test_a_pasted_list_takes_a_file_name_as_a_domain_only_when_told() -> None:
    found, nothing = extract_list("readme.txt\nNode.js, invoice.pdf\nevil[.]pdf domain:notes.txt")
    assert [i.label for i in found] == ["domain:evil.pdf", "domain:notes.txt"]
    assert nothing == ["readme.txt", "Node.js", "invoice.pdf"]


def test_known_spellings() -> None:
    assert refang("hxxps[:]//evil[.]example(.)com/a") == "https://evil.example.com/a"
    assert refang("see HXXP[://]a[dot]b and fxp://c{.}d") == "see http://a.b and ftp://c.d"
    labels = [
        i.label
        for i in extract(
            "at 12:30:45 see readme.txt, Node.js and e.g. v1.2; mail Bob[@]Corp[.]Example "
            "from 2001:DB8::1. Then 10.0.0.1:8080 and evil[.]net"
        )
    ]
    assert labels == ["email:bob@corp.example", "ip:2001:db8::1", "ip:10.0.0.1", "domain:evil.net"]
    assert re.fullmatch(r"[a-z:@.0-9]+", "".join(labels))
