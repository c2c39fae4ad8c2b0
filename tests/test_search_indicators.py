"""Indicator parsing and matching, partition pruning: the rules search and watchlists share."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from connector.indicators.match import IndicatorError, parse
from connector.search import partitions
from connector.watchlist.watchset import WatchSet
from tests.factories import audit

ROW = {
    **audit(7, 1_790_000_000),
    "p_log_type": "Slack.AuditLogs",
    "p_event_time": "2026-09-21T14:13:20Z",
    "p_any_ip_addresses": ["203.0.113.7", "2001:db8::42"],
    "p_any_emails": ["User7@Example.com"],
    "p_any_usernames": ["user7"],
}
LINE = orjson.dumps(ROW).decode()


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("203.0.113.7", "ip", "203.0.113.7"),
        ("203.0.113.0/24", "ip", "203.0.113.0/24"),
        ("203.0.113.9/24", "ip", "203.0.113.0/24"),
        ("2001:DB8::42", "ip", "2001:db8::42"),
        ("User7@Example.com", "email", "user7@example.com"),
        ("W000007", "user", "W000007"),
        ("@user7", "user", "user7"),
        ("user:user7", "user", "user7"),
        ("text:203.0.113.7", "text", "203.0.113.7"),
        ("Birdland", "text", "Birdland"),
        ("ip:10.0.0.1", "ip", "10.0.0.1"),
    ],
)
def test_parse_picks_the_kind(text: str, kind: str, value: str) -> None:
    indicator = parse(text)
    assert (indicator.kind, indicator.value) == (kind, value)


@pytest.mark.parametrize("text", ["", "  ", "ip:not-an-ip", "email:nope", "x" * 300])
def test_parse_refuses(text: str) -> None:
    with pytest.raises(IndicatorError):
        parse(text)


@pytest.mark.parametrize(
    ("text", "hit"),
    [
        ("203.0.113.7", True),
        ("203.0.113.70", False),  # a longer address that contains it is not it
        ("203.0.113.0/24", True),
        ("198.51.100.0/24", False),
        ("2001:db8::/32", True),
        ("2001:0db8:0000::42", True),
        ("user7@example.com", True),
        ("user77@example.com", False),
        ("W000007", True),
        ("W000070", False),
        ("@USER7", True),
        ("birdland", True),
        ("nowhere-at-all", False),
    ],
)
def test_matches(text: str, hit: bool) -> None:
    assert parse(text).matches(ROW, LINE) is hit


@pytest.mark.parametrize(
    "text",
    ["203.0.113.7", "203.0.113.0/24", "user7@example.com", "W000007", "@USER7", "birdland"],
)
def test_prefilter_admits_every_match(text: str) -> None:
    """What DuckDB narrows with (RE2 syntax, which Python's re shares for these patterns)."""
    indicator = parse(text)
    assert indicator.matches(ROW, LINE)
    pattern = indicator.prefilter()
    assert pattern == "" or re.search(pattern, LINE)
    assert 0 in WatchSet((indicator,)).candidates([LINE.encode()])


@given(st.text(min_size=1, max_size=30).filter(lambda s: s.strip()))
def test_watch_scan_finds_any_text_a_line_holds(needle: str) -> None:
    """The watchlist's bytes scan never misses a line the exact rule matches."""
    row = {**ROW, "details": {"note": f"xx{needle}yy"}}
    line = orjson.dumps(row)
    try:
        indicator = parse(f"text:{needle}")
    except IndicatorError:
        return
    assert indicator.matches(row, line.decode()), "the note holds the needle"
    assert 1 in WatchSet((indicator,)).candidates([orjson.dumps(ROW), line, orjson.dumps(ROW)])


def test_watch_scan_locates_lines_and_networks() -> None:
    lines = [orjson.dumps({**ROW, "p_any_ip_addresses": [f"10.0.0.{i}"]}) for i in range(5)]
    assert WatchSet((parse("10.0.0.3"),)).candidates(lines) == [3]
    assert WatchSet((parse("10.0.0.0/30"),)).candidates(lines) == [0, 1, 2, 3, 4]
    assert WatchSet((parse("nothing-here"),)).candidates(lines) == []


T0 = datetime(2026, 11, 1, 10, 30, tzinfo=UTC)
T1 = datetime(2026, 11, 3, 2, 0, tzinfo=UTC)


def test_prune_keeps_overlapping_hours_and_days_side_by_side() -> None:
    root = "s3://b/slack/Slack.AccessLogs"
    paths = [
        f"{root}/year=2026/month=11/day=01/hour=09/a.json.gz",  # before
        f"{root}/year=2026/month=11/day=01/hour=10/b.json.gz",  # overlaps 10:30
        f"{root}/year=2026/month=11/day=1/hour=23/c.json.gz",  # unpadded values
        f"{root}/year=2026/month=11/day=02/d.json.gz",  # daily partition
        f"{root}/year=2026/month=11/day=03/e.json.gz",  # daily, overlaps until 02:00
        f"{root}/year=2026/month=11/day=03/hour=02/f.json.gz",  # starts at until: kept
        f"{root}/year=2026/month=11/day=03/hour=03/g.json.gz",  # after
        f"{root}/year=2026/month=10/day=31/h.json.gz",  # the day before
    ]
    kept = {p.rsplit("/", 1)[1] for p in partitions.prune(paths, T0, T1)}
    assert kept == {"b.json.gz", "c.json.gz", "d.json.gz", "e.json.gz", "f.json.gz"}


def test_month_globs_cover_each_month_once() -> None:
    globs = list(
        partitions.month_globs(
            "/out/slack",
            "Slack.AuditLogs",
            datetime(2025, 12, 20, tzinfo=UTC),
            datetime(2026, 2, 1, tzinfo=UTC),
        )
    )
    assert [g.split("Slack.AuditLogs/")[1].split("/**")[0] for g in globs] == [
        "year=2025/month=12",
        "year=2026/month=1",
        "year=2026/month=01",
        "year=2026/month=2",
        "year=2026/month=02",
    ]


def test_month_globs_find_what_the_connector_writes_and_older_padded_folders(
    tmp_path: Path,
) -> None:
    import duckdb

    from connector.ingest.batch import Batch
    from connector.ingest.partition import HOUR

    batch = Batch("", "s", granularity={"Slack.AuditLogs": HOUR})
    batch.add("Slack.AuditLogs", b"{}", bytes(16), datetime(2026, 3, 7, 9, tzinfo=UTC).timestamp())
    (obj,) = batch.objects()
    old = tmp_path / "Slack.AuditLogs/year=2026/month=03/day=07/hour=09/old.json.gz"
    for path in (tmp_path / obj.key, old):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(obj.body)
    since, until = datetime(2026, 3, 7, tzinfo=UTC), datetime(2026, 3, 8, tzinfo=UTC)
    con = duckdb.connect()
    found = [
        row[0]
        for pattern in partitions.month_globs(str(tmp_path), "Slack.AuditLogs", since, until)
        for row in con.execute("SELECT file FROM glob(?)", [pattern]).fetchall()
    ]
    assert sorted(Path(f).name for f in partitions.prune(found, since, until)) == sorted(
        [Path(obj.key).name, "old.json.gz"]
    )
