"""The index answers exactly what the match rule answers.

One definition of a match (`Indicator.matches`) serves the CLI, `/seclogs`, the submit
confirmations' past hits and the watchlist; the index is that rule turned around
(`indicators.keys`). Hypothesis writes rows out of values in every spelling the rule
treats alike or apart (IPs in v4, v6, compressed, upper case, leading zeros, mapped;
emails and domains in any case, with trailing dots, inside URLs; URLs with ports and
user info; Slack ids and user names) and indicators from the same values, and checks:

- per row, the index keys find the row exactly when `matches` does;
- over objects with and without their Parquet index, `Searcher.find` (the index's
  fingerprints and posting lists, and the reads they send it to) gives the same count,
  first and last seen and tallies as folding `Summary.add` over the rows `matches`
  keeps, in any window, and the newest rows;
- the watchlist's scan alerts on exactly those rows too.
"""

from __future__ import annotations

import gzip
import ipaddress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from connector.config.settings import OutputConfig
from connector.indicators import keys
from connector.indicators.match import Indicator, IndicatorError, parse
from connector.search import index, inventory
from connector.search.query import Searcher
from connector.search.results import Window
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


def scan(
    rows_: list[dict[str, Any]], wanted: list[Indicator], since: datetime, until: datetime
) -> dict[str, Summary]:
    """The oracle: `Summary.add` folded over the rows in the window each indicator
    matches (a row matching two counts for both)."""
    out = {i.label: Summary(i) for i in wanted}
    for row in rows_:
        if not _matched(row, wanted, since, until):
            continue
        line = orjson.dumps(row).decode()
        for indicator in wanted:
            if indicator.matches(row, line):
                out[indicator.label].add(row)
    return out


WINDOWS = [
    ("2026-10-01T00:00:00+00:00", "2026-12-31T00:00:00+00:00"),
    ("2026-11-01T00:00:00+00:00", "2026-11-30T23:59:59+00:00"),
    ("2026-11-02T10:00:00.500000+00:00", "2026-11-29T00:00:00+00:00"),
]


def land_indexed(root: Path, objects: list[list[dict[str, Any]]], indexed: list[bool]) -> None:
    """Each list of rows as one data object (in November, no day partition: rows of any
    time), with its index
    when `indexed` says so."""
    for n, (rows_, with_index) in enumerate(zip(objects, indexed, strict=True)):
        key = f"p/Slack.AuditLogs/year=2026/month=11/o{n}.json.gz"
        lines = [orjson.dumps(r) for r in rows_]
        (root / key).parent.mkdir(parents=True, exist_ok=True)
        (root / key).write_bytes(gzip.compress(b"\n".join(lines) + b"\n"))
        where = index.index_key(key, "p")
        if with_index and where:
            (root / where).parent.mkdir(parents=True, exist_ok=True)
            (root / where).write_bytes(index.build(lines))


@pytest.mark.timeout(600)
@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.lists(rows(), min_size=1, max_size=8), min_size=1, max_size=3),
    st.lists(st.booleans(), min_size=3, max_size=3),
    st.lists(TYPED, min_size=1, max_size=3),
    st.sampled_from(WINDOWS),
    st.sampled_from([1, 3, 100]),
)
@example(
    [[{"details": "evil.example", "p_event_time": "2026-11-01T00:00:00Z"}] * 2],
    [True] * 3,
    ["evil.example"],
    WINDOWS[0],
    100,
)
@example(
    [
        [
            {"details": ["evil.example", "198.51.100.7"], "p_event_time": "2026-11-01T00:00:00Z"},
            {"details": "evil.example", "p_event_time": "2026-11-02T10:00:00.500000Z"},
        ]
        * 2
    ],
    [True] * 3,
    ["evil.example", "198.51.100.7"],
    WINDOWS[0],
    100,
)
@example(
    [
        [
            {
                "context": {"ip_address": "198.51.100.200"},
                "p_event_time": "2026-11-02T10:00:00.500000Z",
                "p_any_emails": ["User7@Example.com"],
            }
        ]
    ],
    [False] * 3,
    ["USER7@example.com", "0.0.0.0/0"],
    WINDOWS[2],
    3,
)
def test_index_counts_and_tallies_like_the_rule(
    tmp_path_factory: Any,
    objects: list[list[dict[str, Any]]],
    indexed: list[bool],
    typed: list[str],
    window: tuple[str, str],
    limit: int,
) -> None:
    """Through `Searcher.find` over real objects and their Parquet indexes (some objects
    without one): the first screen's count, first and last seen, and with tallies the
    whole summary (counted by DuckDB), equal folding `Summary.add` over the rows each
    indicator `matches` (a row holding two counts for both), the total is the rows
    matching any, and the newest rows are the newest matches. (A DuckDB connection and files per example: ~7 CPU s,
    37 s at load 10; past pytest's 120 s default at times on a loaded host.)"""
    wanted = [i for i in indicators(typed) if keys.lookup(i) is not None]
    if not wanted:
        return
    root = tmp_path_factory.mktemp("out")
    land_indexed(root, objects, indexed[: len(objects)])
    since, until = (datetime.fromisoformat(w) for w in window)
    everything = [r for rows_ in objects for r in rows_]
    check_found(root, wanted, everything, since, until, limit)


def check_found(
    root: Path,
    wanted: list[Indicator],
    everything: list[dict[str, Any]],
    since: datetime,
    until: datetime,
    limit: int,
) -> None:
    """`Searcher.find` over the output at `root` (prefix `p`), with and without tallies,
    against `scan` over `everything` landed there."""
    expected = scan(everything, wanted, since, until)
    searcher = Searcher(OutputConfig(type="local", path=str(root), prefix="p"))
    try:
        for tally in (False, True):
            found = searcher.find(wanted, Window(since, until), limit=limit, tally=tally)
            for got in found.summaries:
                want = expected[got.indicator.label]
                assert (got.count, got.first_seen, got.last_seen) == (
                    want.count,
                    want.first_seen,
                    want.last_seen,
                ), (tally, got.indicator.label)
                for name in ("log_types", "sources", "actors", "actions", "ips") if tally else ():
                    assert dict(getattr(got, name).counts) == dict(getattr(want, name).counts)
            matched = sorted(
                (r["p_event_time"] for r in everything if _matched(r, wanted, since, until)),
                reverse=True,
            )
            assert sorted((h.event_time for h in found.hits), reverse=True) == matched[:limit]
            assert found.total == len(matched), tally
            for hit in found.hits:
                assert hit.indicator.matches(hit.row, hit.line)
    finally:
        searcher.close()


def _matched(
    row: dict[str, Any], wanted: list[Indicator], since: datetime, until: datetime
) -> bool:
    when = index.micros(row.get("p_event_time"))
    if (
        when is None
        or not (since - index.EPOCH) // index.MICRO <= when <= (until - index.EPOCH) // index.MICRO
    ):
        return False
    line = orjson.dumps(row).decode()
    return any(i.matches(row, line) for i in wanted)


def test_an_index_of_another_version_is_ignored_and_the_object_scanned(tmp_path: Path) -> None:
    """A version 1 index (`x.parquet`, another format) is not read: its object is scanned
    and listed as unindexed, for `slack-connector index` to write the current one."""
    row = {"details": "evil.example", "p_event_time": "2026-11-01T00:00:00Z"}
    land_indexed(tmp_path, [[row, row]], [False])
    old = tmp_path / "p/_index/Slack.AuditLogs/year=2026/month=11/o0.parquet"
    old.parent.mkdir(parents=True)
    old.write_bytes(b"PAR1 not this version PAR1")
    searcher = Searcher(OutputConfig(type="local", path=str(tmp_path), prefix="p"))
    window = Window(datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC))
    try:
        found = searcher.find([parse("evil.example")], window, tally=False)
        assert found.total == 2
        assert inventory.unindexed(searcher, window) == [
            "p/Slack.AuditLogs/year=2026/month=11/o0.json.gz"
        ]
    finally:
        searcher.close()


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
