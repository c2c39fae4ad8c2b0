"""Every spelling of a value matches, and no prefilter drops a row `matches` keeps.

The prefilters are checked with DuckDB's own `regexp_matches` (RE2), the engine the
search narrows with, and the needles with the watchlist's `WatchSet`; spellings are
drawn at random: IPv6 with any leading zeros, case and `::`, or a dotted IPv4 tail;
emails, domains and URL hosts in any ASCII case; defanged input as reports write it.
"""

from __future__ import annotations

import ipaddress
from typing import Any

import duckdb
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.indicators.match import Indicator, IndicatorError, parse, refang
from connector.watchlist.watchset import WatchSet

DB = duckdb.connect()
BASE: dict[str, Any] = {
    "p_log_type": "Slack.AuditLogs",
    "p_event_time": "2026-09-21T14:13:20Z",
    "action": "user_login",
    "actor": {"type": "user", "user": {"id": "W1", "email": "someone@example.org"}},
}


def row_with(value: str, where: str) -> dict[str, Any]:
    """A row holding `value` in one of the places a landed row can hold it."""
    if where == "indicator_field":
        return {**BASE, "p_any_ip_addresses": [value], "p_any_emails": [value]}
    if where == "nested":
        return {**BASE, "details": {"reason": {"list": ["x", value]}}}
    return {**BASE, "entity": {"type": "user", "user": {"name": value}}}


def admitted(indicator: Indicator, row: dict[str, Any]) -> None:
    """The row matches, and neither DuckDB's prefilter nor the watchlist scan drops it."""
    line = orjson.dumps(row).decode()
    assert indicator.matches(row, line), (indicator, line)
    pattern = indicator.prefilter()
    if pattern:
        (hit,) = DB.execute("SELECT regexp_matches(?, ?)", [line, pattern]).fetchone() or (0,)
        assert hit, (pattern, line)
    needle = indicator.needle
    assert not needle or needle in line.lower()
    assert 0 in WatchSet((indicator,)).candidates([line.encode()]) or not needle


def spell_ipv6(draw: st.DrawFn, address: ipaddress.IPv6Address) -> str:
    groups = [int(g, 16) for g in address.exploded.split(":")]
    dotted = draw(st.booleans())
    count = 6 if dotted else 8
    texts = []
    for g in groups[:count]:
        digits = f"{g:x}"
        digits = "0" * draw(st.integers(0, 4 - len(digits))) + digits
        texts.append("".join(c.upper() if draw(st.booleans()) else c for c in digits))
    zeros = [i for i, g in enumerate(groups[:count]) if g == 0]
    tail = [str(ipaddress.IPv4Address((groups[6] << 16) | groups[7]))] if dotted else []
    if zeros and draw(st.booleans()):
        start = draw(st.sampled_from(zeros))
        end = start
        while end + 1 < count and groups[end + 1] == 0 and draw(st.booleans()):
            end += 1
        head, rest = ":".join(texts[:start]), ":".join(texts[end + 1 :] + tail)
        return f"{head}::{rest}"
    return ":".join(texts + tail)


@st.composite
def ipv6_spelled(draw: st.DrawFn) -> tuple[ipaddress.IPv6Address, str]:
    address = draw(
        st.one_of(
            st.ip_addresses(v=6),
            st.sampled_from(["::1", "::", "2001:db8::42", "fe80::1:0:0:7", "::ffff:1.2.3.4"]).map(
                ipaddress.IPv6Address
            ),
        )
    )
    assert isinstance(address, ipaddress.IPv6Address)
    return address, spell_ipv6(draw, address)


@settings(max_examples=300, deadline=None)
@given(ipv6_spelled(), ipv6_spelled(), st.sampled_from(["indicator_field", "nested", "name"]))
def test_ipv6_any_spelling_finds_any_spelling(
    asked: tuple[ipaddress.IPv6Address, str],
    held: tuple[ipaddress.IPv6Address, str],
    where: str,
) -> None:
    address, typed = asked
    assert ipaddress.ip_address(held[1]) == held[0], "the drawn spelling is valid"
    indicator = parse(typed)
    assert indicator.value == str(address)
    _, other_spelling = held
    if held[0] == address:
        admitted(indicator, row_with(other_spelling, where))
    else:
        row = row_with(other_spelling, where)
        assert not indicator.matches(row, orjson.dumps(row).decode())


@settings(max_examples=200, deadline=None)
@given(ipv6_spelled(), st.integers(16, 112).map(lambda n: n - n % 4))
def test_ipv6_range_admits_every_spelling_inside(
    held: tuple[ipaddress.IPv6Address, str], prefix: int
) -> None:
    address, spelling = held
    network = ipaddress.IPv6Network(f"{address}/{prefix}", strict=False)
    admitted(parse(str(network)), row_with(spelling, "nested"))


def flip_case(draw: st.DrawFn, text: str) -> str:
    return "".join(c.swapcase() if c.isascii() and draw(st.booleans()) else c for c in text)


LABEL = st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=10)
DOMAINS = st.builds(
    lambda parts, tld: ".".join([*parts, tld]),
    st.lists(LABEL, min_size=1, max_size=3),
    st.text("abcdefghijklmnopqrstuvwxyz", min_size=2, max_size=6),
)
LOCAL = st.text("abcdefghijklmnopqrstuvwxyz0123456789._+-", min_size=1, max_size=12).filter(
    lambda s: not s.isdigit()
)


@settings(max_examples=200, deadline=None)
@given(st.data(), LOCAL, DOMAINS, st.sampled_from(["indicator_field", "nested", "name"]))
def test_email_and_domain_match_in_any_ascii_case_anywhere(
    data: st.DataObject, local: str, domain: str, where: str
) -> None:
    email = f"{local}@{domain}"
    asked = parse(flip_case(data.draw, email))
    assert (asked.kind, asked.value) == ("email", email)
    admitted(asked, row_with(flip_case(data.draw, email), where))
    by_domain = parse(flip_case(data.draw, domain))
    assert (by_domain.kind, by_domain.value) == ("domain", domain)
    admitted(by_domain, row_with(flip_case(data.draw, domain), where))
    admitted(by_domain, row_with(flip_case(data.draw, email), where))
    admitted(by_domain, row_with(f"https://{flip_case(data.draw, domain)}/x?y=1", where))
    longer = row_with(f"x{email}", where)
    assert not asked.matches(longer, orjson.dumps(longer).decode())
    sub = row_with(f"www.{domain}", where)
    assert not by_domain.matches(sub, orjson.dumps(sub).decode())


def defang(draw: st.DrawFn, text: str) -> str:
    text = text.replace(".", draw(st.sampled_from([".", "[.]", "(.)"])))
    text = text.replace("@", draw(st.sampled_from(["@", "[@]"])))
    if text.startswith("http"):
        text = draw(st.sampled_from(["http", "hxxp", "HXXP"])) + text[4:]
    return text


@settings(max_examples=200, deadline=None)
@given(st.data(), DOMAINS, st.sampled_from(["", "/", "/a/B.html", "/?q=1", "?q=1"]))
def test_defanged_urls_emails_and_domains_read_as_the_real_thing(
    data: st.DataObject, domain: str, rest: str
) -> None:
    url = f"http://{domain}{rest}"
    asked = parse(defang(data.draw, url))
    assert asked.kind == "url"
    tail = rest.lstrip("/")
    same = [url, f"HTTP://{domain.upper()}{rest}"]
    if tail[:1] in ("", "?"):
        same += [f"http://{domain}/{tail}", f"http://{domain}{tail}"]
    for spelling in same:
        admitted(asked, row_with(spelling, "nested"))
    email = parse(defang(data.draw, f"ops@{domain}"))
    assert (email.kind, email.value) == ("email", f"ops@{domain}")
    assert parse(defang(data.draw, domain)).label == f"domain:{domain}"


def test_url_path_is_case_sensitive_and_slash_equivalences() -> None:
    asked = parse("hxxps://Evil[.]COM/Path")
    assert asked.label == "url:https://evil.com/Path"
    for value, hit in [
        ("https://EVIL.com/Path", True),
        ("https://evil.com/path", False),
        ("https://evil.com/Path/x", False),
    ]:
        row = row_with(value, "nested")
        assert asked.matches(row, orjson.dumps(row).decode()) is hit, value
    bare = parse("http://evil.com")
    for value in ("http://evil.com/", "HTTP://EVIL.COM"):
        admitted(bare, row_with(value, "nested"))
    query = parse("http://evil.com/?q=1")
    admitted(query, row_with("http://evil.com?q=1", "nested"))


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("hxxp://evil[.]com/a", "url:http://evil.com/a"),
        ("hxxps[:]//evil(.)com", "url:https://evil.com"),
        ("user[@]Evil[.]com", "email:user@evil.com"),
        ("Evil[.]Com", "domain:evil.com"),
        ("domain:EVIL.com.", "domain:evil.com"),
        ("url:HTTP://A.example/X", "url:http://a.example/X"),
        ("198.51.100[.]7", "ip:198.51.100.7"),
        ("2001:0DB8:0000::0042", "ip:2001:db8::42"),
        ("text:evil[.]com", "text:evil[.]com"),
        ("a[.]b c", "text:a[.]b c"),
        ("Birdland", "text:Birdland"),
        ("W000007", "user:W000007"),
    ],
)
def test_parse_refangs_and_normalises(text: str, label: str) -> None:
    assert parse(text).label == label


@pytest.mark.parametrize("text", ["domain:no_tld", "domain:1.2.3.4", "url:evil.com", "url:http://"])
def test_forced_kinds_refuse_what_they_are_not(text: str) -> None:
    with pytest.raises(IndicatorError):
        parse(text)


def test_refang_leaves_ordinary_text_alone() -> None:
    assert refang("plain words (and brackets)") == "plain words (and brackets)"
    assert refang("hxxps[://]evil[dot]com") == "https://evil.com"
