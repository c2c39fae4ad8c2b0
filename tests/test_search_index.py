"""The index answers exactly what the match rule answers.

One definition of a match (`Indicator.matches`) serves the CLI, `/seclogs`, the submit
confirmations' past hits and the watchlist; the index is that rule turned around
(`indicators.keys`). Hypothesis writes rows out of values in every spelling the rule
treats alike or apart (IPs in v4, v6, compressed, upper case, leading zeros, mapped;
emails and domains in any case, with trailing dots, inside URLs; URLs with ports and
user info; Slack ids and user names) and indicators from the same values, and checks:

- per row, the index keys find the row exactly when `matches` does;
- per object, the Parquet index queried by DuckDB (`search.lookup`) gives the same count,
  first and last seen and tallies as folding `Summary.add` over the rows `matches`
  keeps, and the same newest rows;
- the watchlist's scan alerts on exactly those rows too.
"""

from __future__ import annotations

import ipaddress
from typing import Any

import duckdb
import orjson
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from connector.indicators import keys
from connector.indicators.match import Indicator, IndicatorError, parse
from connector.search import index, lookup
from connector.search.summary import Summary

ADDRESSES = ["198.51.100.7", "198.51.100.200", "10.1.2.3", "2001:db8::9", "2001:db8:0:1::9"]


def spellings(address: str) -> list[str]:
    ip = ipaddress.ip_address(address)
    out = [str(ip), str(ip).upper()]
    if ip.version == 6:
        out += [ip.exploded, ip.exploded.upper(), f"::ffff:{ADDRESSES[0]}"]
    return out


VALUES = st.sampled_from(
    [s for a in ADDRESSES for s in spellings(a)]
    + [
        "User7@Example.com",
        "user7@example.com",
        "ops@evil.example",
        "OPS@EVIL.EXAMPLE.",
        "evil.example",
        "Evil.Example.",
        "sub.evil.example",
        "https://Evil.Example/payload",
        "HTTPS://EVIL.EXAMPLE/payload",
        "https://evil.example:8443/Payload",
        "https://user@evil.example",
        "http://evil.example",
        "http://evil.example/",
        "W0123ABCD",
        "w0123abcd",
        "U0ACCESS1",
        "alice",
        "Alice",
        "readme.txt",
        "not an indicator",
        "contact user7@example.com today",
        "198.51.100.7:443",
        "",
    ]
)
TYPED = st.sampled_from(
    [
        *ADDRESSES,
        *("198.51.100.0/24", "2001:db8::/32", "10.0.0.0/8", "0.0.0.0/0"),
        *("USER7@example.com", "ops@evil.example", "evil.example", "sub.evil.example"),
        *("hxxps://evil[.]example/payload", "http://evil.example"),
        "https://evil.example:8443/Payload",
        *("W0123ABCD", "U0ACCESS1", "user:W0123ABCD", "@alice", "text:evil"),
    ]
)
# `p_event_time` as `clock.rfc3339` writes it, and one that does not parse
TIMES = st.sampled_from(
    ["2026-11-01T00:00:00Z", "2026-11-02T10:00:00.500000Z", "2026-11-30T23:59:59Z", "bad"]
)


@st.composite
def rows(draw: st.DrawFn) -> dict[str, Any]:
    leaf = st.one_of(VALUES, st.integers(0, 9), st.none())
    nested = st.recursive(
        leaf,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3),
            st.dictionaries(st.sampled_from(["a", "b", "ip", "email"]), inner, max_size=3),
        ),
        max_leaves=8,
    )
    row: dict[str, Any] = {
        "details": draw(nested),
        "context": {"ip_address": draw(VALUES)},
        "p_log_type": draw(st.sampled_from(["Slack.AuditLogs", "Slack.AccessLogs"])),
        "p_event_time": draw(TIMES),
        "p_source_id": draw(st.sampled_from(["acme", "beta"])),
        "action": draw(st.sampled_from(["user_login", "file_downloaded"])),
    }
    for field in ("p_any_usernames", "p_any_ip_addresses", "p_any_emails"):
        if draw(st.booleans()):
            row[field] = draw(st.lists(VALUES, max_size=3))
    return row


def found_by_index(indicator: Indicator, row: dict[str, Any]) -> bool:
    look = keys.lookup(indicator)
    assert look is not None
    held = keys.row_keys(row)
    return bool(held & set(look.keys)) or any(look.low <= k <= look.high for k in held if look.low)


def indicators(typed: list[str]) -> list[Indicator]:
    out = []
    for text in typed:
        try:
            out.append(parse(text))
        except IndicatorError:
            continue
    return list({i.label: i for i in out}.values())


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows(), TYPED)
@example({"details": "W0123ABCD", "p_any_usernames": ["w0123abcd"]}, "W0123ABCD")
@example({"details": "x", "p_any_usernames": ["w0123abcd"]}, "W0123ABCD")
@example({"details": "2001:DB8:0:0::9"}, "2001:db8::/32")
def test_index_keys_find_a_row_exactly_when_it_matches(row: dict[str, Any], typed: str) -> None:
    indicator = parse(typed)
    line = orjson.dumps(row).decode()
    if keys.lookup(indicator) is None:
        assert indicator.kind in ("text", "user")
        return
    assert found_by_index(indicator, row) == indicator.matches(row, line), (typed, line)


def scan(rows_: list[dict[str, Any]], wanted: list[Indicator]) -> dict[str, Summary]:
    """What the scan does: each row under the first indicator it matches, in the window."""
    out = {i.label: Summary(i) for i in wanted}
    for row in rows_:
        if index.micros(row.get("p_event_time")) is None:
            continue
        line = orjson.dumps(row).decode()
        for indicator in wanted:
            if indicator.matches(row, line):
                out[indicator.label].add(row)
                break
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(rows(), min_size=1, max_size=12), st.lists(TYPED, min_size=1, max_size=3))
def test_index_in_duckdb_counts_and_tallies_like_the_rule(
    tmp_path_factory: Any, rows_: list[dict[str, Any]], typed: list[str]
) -> None:
    wanted = [i for i in indicators(typed) if keys.lookup(i) is not None]
    if not wanted:
        return
    folder = tmp_path_factory.mktemp("index")
    path = folder / "x.parquet"
    path.write_bytes(index.build(orjson.dumps(r) for r in rows_))
    hourly = folder / "year=2026" / "month=11" / "day=2" / "hour=10"
    hourly.mkdir(parents=True)
    (hourly / "y.parquet").write_bytes(path.read_bytes())
    looks: Any = [(i, keys.lookup(i)) for i in wanted]
    db = duckdb.connect()
    try:
        summaries, located = lookup.find(db, [str(path)], looks, 0, 1 << 62, limit=5)
        expected = scan(rows_, wanted)
        if len(looks) == 1:  # the first screen: stat rows for an object inside the window
            for files in ([str(path)], [str(hourly / "y.parquet")]):
                [fast], newest = lookup.find(db, files, looks, 0, 1 << 62, 5, tally=False)
                want = expected[fast.indicator.label]
                got = (fast.count, fast.first_seen, fast.last_seen)
                assert got == (want.count, want.first_seen, want.last_seen)
                assert [(x.line, x.time) for x in newest] == [(x.line, x.time) for x in located]
    finally:
        db.close()
    for got in summaries:
        want = expected[got.indicator.label]
        assert (got.count, got.first_seen, got.last_seen) == (
            want.count,
            want.first_seen,
            want.last_seen,
        )
        for name in ("log_types", "sources", "actors", "actions", "ips"):
            assert dict(getattr(got, name).counts) == dict(getattr(want, name).counts), name
    matched = sum(s.count for s in expected.values())
    assert len(located) == min(5, matched)
    for loc in located:
        row = rows_[loc.line]
        assert loc.indicator.matches(row, orjson.dumps(row).decode())


def test_index_command_backfills_objects_landed_without_one_resumably(
    slack: Any, tmp_path: Any, capsys: Any
) -> None:
    """Objects landed with indexing off are scanned; `index` writes what is missing (an
    interrupted run leaves some: the next one does only those), and the answers stay."""
    from connector.cli.main import main
    from tests.test_search import land, rows, write_config

    land(slack)
    out = tmp_path / "out"
    output = {"type": "local", "path": str(out), "search_index": False}
    config = write_config(tmp_path, slack, output)
    assert main(["once", "--config", config]) == 0
    assert not list(out.rglob("*.parquet"))
    capsys.readouterr()
    assert main(["search", "--config", config, "--format", "json", "203.0.113.0/24"]) == 0
    scanned = rows(capsys.readouterr().out)
    data = list(out.rglob("*.json.gz"))
    assert len(data) >= 3 and len(scanned) == 38
    assert main(["index", "--config", config, "--since", "1d"]) == 0
    assert f"indexed {len(data)} object(s)" in capsys.readouterr().out
    indexes = sorted(out.rglob("*.parquet"))
    assert len(indexes) == len(data)
    for index_file in indexes[1:]:
        index_file.unlink()
    assert main(["index", "--config", config, "--since", "1d"]) == 0
    assert f"indexed {len(data) - 1} object(s)" in capsys.readouterr().out
    assert main(["index", "--config", config, "--since", "1d"]) == 0
    assert "indexed 0 object(s), 0 row(s); 0 left" in capsys.readouterr().out
    assert main(["search", "--config", config, "--format", "json", "203.0.113.0/24"]) == 0
    found = rows(capsys.readouterr().out)
    assert sorted(found, key=orjson.dumps) == sorted(scanned, key=orjson.dumps)
    assert [r["p_event_time"] for r in found] == [r["p_event_time"] for r in scanned]
