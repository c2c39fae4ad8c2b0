"""The enriched answer: a summary of every match, the newest rows, and a cut that says
how to see the rest, in the CLI and as Slack text."""

from __future__ import annotations

import shlex
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.cli.main import main
from connector.cli.parser import build_parser
from connector.cli.search import when
from connector.indicators.match import parse
from connector.search import query, summary
from connector.search.results import Found, Hit, Newest, Window
from tests.factories import audit
from tests.fakes.slack_server import FakeSlack
from tests.test_search import land, write_config

IP = parse("203.0.113.7")
T0 = datetime(2026, 11, 1, tzinfo=UTC)
WINDOW = Window(T0, T0 + timedelta(days=30))


def row(i: int, seconds: int, **extra: Any) -> dict[str, Any]:
    when = (T0 + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        **audit(i, 0),
        "p_log_type": "Slack.AuditLogs",
        "p_event_time": when,
        "p_source_id": "acme",
        "p_source_label": "acme org",
        "p_row_id": f"{i:032d}",
        "p_any_ip_addresses": ["203.0.113.7"],
        **extra,
    }


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(0, 50), max_size=60), st.integers(1, 20))
def test_newest_keeps_what_sort_then_cut_keeps_and_counts_all(
    seconds: list[int], limit: int
) -> None:
    hits = [Hit(IP, row(i, s), "") for i, s in enumerate(seconds)]
    kept = Newest(limit)
    for start in range(0, len(hits), 7):
        kept.add(hits[start : start + 7], WINDOW)
    expected = sorted(hits, key=lambda h: h.event_time, reverse=True)[:limit]
    assert [h.row["p_row_id"] for h in kept.newest()] == [h.row["p_row_id"] for h in expected]
    assert kept.seen == len(hits)


def test_summary_counts_firsts_lasts_tops_and_watch_entries() -> None:
    s = summary.Summary(IP)
    for i in range(12):
        extra: dict[str, Any] = {"action": "file_downloaded" if i % 3 else "user_login"}
        if i == 5:
            extra.update(p_log_type="Slack.AccessLogs", p_source_label="beta org", user_id="U1")
        s.add(row(i % 7, 100 * (11 - i), **extra))
    assert (s.count, s.first_seen, s.last_seen) == (
        12,
        "2026-11-01T00:00:00Z",
        "2026-11-01T00:18:20Z",
    )
    assert s.log_types.top() == [("Slack.AuditLogs", 11), ("Slack.AccessLogs", 1)]
    assert s.sources.top() == [("acme org", 11), ("beta org", 1)]
    assert s.actors.distinct == "7" and len(s.actors.top()) == 5
    assert dict(s.actions.top())["file_downloaded"] == 7
    entry = summary.WatchEntry("phishing", ("apt", "q4"), "U0ALICE01", "2026-11-30T09:00:00Z", "r1")
    lines = s.lines([entry])
    assert (
        lines[0]
        == "ip:203.0.113.7: 12 event(s), first seen 2026-11-01T00:00:00Z, last seen 2026-11-01T00:18:20Z"
    )
    assert lines[-1].strip() == (
        "watched: in phishing tagged apt, q4 by U0ALICE01 on 2026-11-30T09:00:00Z (r1)"
    )
    slack = s.lines([entry], summary.SLACK)
    assert "by <@U0ALICE01>" in slack[-1] and "`phishing`" in slack[-1]
    assert s.as_dict([])["watched"] == [] and s.as_dict([entry])["watched"][0]["tags"] == [
        "apt",
        "q4",
    ]


def test_distinct_values_are_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(summary, "DISTINCT_CAP", 3)
    tally = summary.Tally()
    for value in "abcdea":
        tally.add(value)
    assert tally.distinct == "3+" and tally.top(1) == [("a", 2)]


@settings(max_examples=100, deadline=None)
@given(
    st.integers(0, 120),
    st.integers(1, 60),
    st.integers(300, 4000),
    st.sampled_from(["user7", "<!channel> & <@U1>", "a`b"]),
)
def test_slack_answer_fits_escapes_and_names_the_rest(
    matches: int, limit: int, text_limit: int, name: str
) -> None:
    hits = [
        Hit(IP, row(i, i, actor={"type": "user", "user": {"id": "W1", "name": name}}), "")
        for i in range(matches)
    ]
    kept = Newest(limit)
    kept.add(hits, WINDOW)
    folded = summary.Summary(IP)
    for hit in hits:
        folded.add(hit.row)
    found = Found(kept.newest(), [folded], WINDOW, ("audit",), limit)
    entry = summary.WatchEntry("ops <team>")
    text = summary.slack_answer(found, lambda i: [entry], text_limit)
    assert len(text) <= text_limit
    assert "<!channel>" not in text and "<team>" not in text
    if text_limit < 1500:
        return
    shown = text.count("  [ip:203.0.113.7]  ")
    assert shown <= min(limit, matches)
    if shown < matches:
        more = text.rsplit("\n", 1)[1]
        assert more.startswith(f"_{matches - shown} more: `slack-connector search")
        args = build_parser().parse_args(shlex.split(more.split("`")[1])[1:])
        assert args.indicators == ["ip:203.0.113.7"] and args.log_types == ["audit"]
        assert args.all and args.summary
        assert when(args.since) <= WINDOW.since and when(args.until) >= WINDOW.until
    else:
        assert "more:" not in text


def test_cli_summary_table_watched_and_cut(
    slack: FakeSlack,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    land(slack)
    config = write_config(tmp_path, slack, {"type": "local", "path": str(tmp_path / "out")})
    with Path(config).open("a") as f:
        f.write('\n[watchlist]\nindicators = ["198.51.100.23"]\n')
    assert main(["once", "--config", config]) == 0
    capsys.readouterr()
    assert main(["search", "--config", config, "--summary", "198.51.100.23"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("ip:198.51.100.23: 2 event(s), first seen ")
    assert out[1].strip().startswith("by log type: ") and "Slack.AccessLogs 1" in out[1]
    assert "Slack.AuditLogs 1" in out[1] and out[2].strip() == "by source: acme org 2"
    assert "user_login 1" in out[4] and "access 1" in out[4]
    assert out[6].strip() == "watched: in config"
    assert out[8].split()[:2] == ["TIME", "LOG"]
    # land(): audit 1..39 in 203.0.113.0/24, two moved out of it, and audit 500 (.0)
    assert main(["search", "--config", config, "--limit", "2", "203.0.113.0/24"]) == 0
    err = capsys.readouterr().err
    assert "2 of 38 matching event(s); all of them: slack-connector search" in err
    assert f"--config {config}" in err and "--all --summary" in err
    # a range every row is in: the index counts every one of them
    assert main(["search", "--config", config, "--summary", "--limit", "2", "0.0.0.0/0"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("ip:0.0.0.0/0: 41 event(s)"), out
    assert "2 of 41 matching event(s)" in err
    # objects without an index and no literal to narrow by: read newest first, stop after
    # the limit, say "at least"
    for index in (tmp_path / "out").rglob("*.parquet"):
        index.unlink()
    monkeypatch.setattr(query, "FETCH", 4)
    assert main(["search", "--config", config, "--summary", "--limit", "2", "0.0.0.0/0"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("ip:0.0.0.0/0: at least 4 event(s)"), out
    assert "2 of more matching event(s)" in err


def test_watched_names_lists_tags_who_and_report(
    slack: FakeSlack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """What the summary says about watching comes from the watchlist's provenance."""
    from connector.config.load import load
    from connector.watchlist.provenance import Entry, Report
    from connector.watchlist.watched import watched_in
    from connector.watchlist.watchlist import Watchlist

    land(slack)
    config = write_config(tmp_path, slack, {"type": "local", "path": str(tmp_path / "out")})
    with Path(config).open("a") as f:
        f.write('\n[watchlist]\nindicators = ["user9@example.com"]\n')
    assert main(["once", "--config", config]) == 0
    settings = load(config)
    store = settings.state.open(replica=False)
    try:
        watchlist = Watchlist(settings.watchlist, store, lambda alert: None)
        report = Report("C2 seen", "beacons to 198.51.100[.]23", "U0ALICE01", "default")
        report_id = watchlist.provenance.save_report(report)
        entry = Entry("default", "U0ALICE01", "2026-11-30T09:00:00Z", ("apt", "q4"), "", report_id)
        watchlist.add_all([parse("198.51.100.23"), parse("user9@example.com")], entry)
        seen = watched_in(watchlist)(parse("198.51.100.23"))
        assert seen == [
            summary.WatchEntry(
                "default", ("apt", "q4"), "U0ALICE01", "2026-11-30T09:00:00Z", 'report "C2 seen"'
            )
        ]
        both = watched_in(watchlist)(parse("USER9@example.com"))
        assert [w.watchlist for w in both] == ["default", "config"]
        assert watched_in(watchlist)(parse("203.0.113.1")) == []
    finally:
        store.close()
    capsys.readouterr()
    assert main(["search", "--config", config, "--summary", "198.51.100.23"]) == 0
    out = capsys.readouterr().out
    assert (
        'watched: in default tagged apt, q4 by U0ALICE01 on 2026-11-30T09:00:00Z (report "C2 seen")'
        in out
    )
