"""Issue #18: access logs past Slack's 100-page cap, over real sockets to the fake Slack.

Cursor mode with its quirks, classic pages with time travel in every sort x `before`
combination (the connector's largest page scaled down to three rows, so 330 rows run past
page 100), the unsafe combination reporting itself in the error, `check` and
`state show`, and a first run of 150,000 combinations that resumes after a restart.
"""

from __future__ import annotations

import gzip
from collections import Counter
from pathlib import Path

import pytest

from connector.cli.main import main
from connector.paging import limits
from connector.state.sqlite import StateStore
from tests.conftest import TOKEN_ENV, local_settings, once, read_local, source
from tests.factories import access, now
from tests.fakes.slack_server import ACCESS_METHOD, FakeSlack

COMBINATIONS = [
    ("date_last", "date_last"),
    ("date_last", "date_first"),
    ("date_first", "date_first"),
    ("date_first", "date_last"),
]


def combos(tmp_path: Path) -> Counter[tuple[str, str, str]]:
    rows = read_local(tmp_path / "out", "slack/Slack.AccessLogs")
    return Counter((r["user_id"], r["ip"], r["user_agent"]) for r in rows)


def checkpoint(tmp_path: Path) -> dict:  # type: ignore[type-arg]
    store = StateStore(tmp_path / "state.db")
    try:
        return store.checkpoint("acme", "access") or {}
    finally:
        store.close()


def _rows(slack: FakeSlack, n: int) -> None:
    """date_first and date_last orders disagree on every other row, so the listing shows
    its sort field within a page and `date_last` > `date_first` witnesses the filter."""
    t = now()
    slack.add_access(
        access(
            f"U{i}",
            f"198.51.100.{i % 250}",
            "UA",
            t - 5000 - 10 * i,
            t - 5000 - 10 * i + 15 * (i % 2),
        )
        for i in range(n)
    )


@pytest.mark.parametrize(("sort_key", "before_field"), COMBINATIONS)
def test_classic_pages_time_travel_past_page_100(
    slack: FakeSlack,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    sort_key: str,
    before_field: str,
) -> None:
    monkeypatch.setattr(limits, "MAX_COUNT", 3)
    slack.access_cursor = "error"
    slack.access_sort_key, slack.access_before_field = sort_key, before_field
    _rows(slack, 330)
    settings = local_settings(tmp_path, source(slack, log_types=["access"]))

    [outcome] = once(settings)

    classic = [r for r in slack.requests if "page" in r.params]
    assert all(int(r.params["page"]) <= 100 for r in classic)
    kept = checkpoint(tmp_path)["paging"]
    assert kept["mode"] == "classic" and kept["sort"] == sort_key
    if (sort_key, before_field) == ("date_first", "date_last"):
        assert not outcome.ok
        assert "cannot be reached without cursor paging" in outcome.detail
        assert "are out of reach" in outcome.detail and "poll often enough" in outcome.detail
        assert kept["before"] == "date_last" and "poll often enough" in kept["unsafe"]
        assert "walk" not in checkpoint(tmp_path), "the next poll starts again from the top"
        return
    assert outcome.ok, outcome.detail
    got = combos(tmp_path)
    assert len(got) == 330 and set(got.values()) == {1}
    assert "unsafe" not in kept and "walk" not in checkpoint(tmp_path)


def test_the_unsafe_combination_shows_in_check_and_state_show(
    slack: FakeSlack,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(limits, "MAX_COUNT", 3)
    monkeypatch.setenv(TOKEN_ENV, "xoxp-test-token")
    slack.access_cursor = "ignored"
    slack.access_sort_key, slack.access_before_field = "date_first", "date_last"
    _rows(slack, 330)
    path = tmp_path / "config.toml"
    path.write_text(
        f'[state]\npath = "{tmp_path}/state.db"\n[output]\ntype = "local"\npath = "{tmp_path}/out"\n'
        f'[metrics]\nenabled = false\n[[sources]]\nid = "acme"\ntoken_env = "{TOKEN_ENV}"\n'
        f'log_types = ["access"]\nweb_api_url = "{slack.web_api_url}"\nretry_attempts = 1\n'
        "web_calls_per_minute = 100000\n"
    )

    assert main(["once", "--config", str(path)]) == 1
    capsys.readouterr()
    assert main(["check", "--config", str(path)]) != 0
    checked = capsys.readouterr().out
    assert main(["state", "show", "--config", str(path)]) == 0
    shown = capsys.readouterr().out

    for text in (checked, shown):
        assert "listed by date_first and `before` filters date_last" in text
        assert "poll often enough that fewer than" in text
    assert "classic paging only" in checked
    assert "WARNING source acme access" in shown


def test_cursor_mode_survives_short_pages_repeats_and_invalid_cursors(
    slack: FakeSlack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(limits, "MAX_COUNT", 10)
    slack.access_short_pages = True
    slack.repeat_access_cursor = 1
    slack.invalid_access_cursor = 1
    _rows(slack, 300)
    settings = local_settings(tmp_path, source(slack, log_types=["access"]))

    [outcome] = once(settings)

    assert outcome.ok, outcome.detail
    got = combos(tmp_path)
    assert len(got) == 300 and set(got.values()) == {1}
    assert all("page" not in r.params for r in slack.requests), "no classic page was asked for"
    restarts = [r for r in slack.requests[1:] if "cursor" not in r.params]
    assert len(restarts) == 2, "the repeat and the refused cursor each restart the walk"
    assert checkpoint(tmp_path)["paging"]["mode"] == "cursor"


@pytest.mark.parametrize("refusal", ["error", "ignored"])
def test_a_refused_cursor_mode_falls_back_to_classic_and_is_remembered(
    slack: FakeSlack, tmp_path: Path, refusal: str
) -> None:
    slack.access_cursor = refusal
    _rows(slack, 40)
    settings = local_settings(tmp_path, source(slack, log_types=["access"], page_size=10))
    assert once(settings)[0].ok
    first = len(slack.requests)
    assert "limit" in slack.requests[0].params and "limit" not in slack.requests[1].params

    slack.add_access([access("U999", "198.51.100.99", "UA", now())])
    [outcome] = once(settings)

    assert outcome.ok and outcome.result is not None and outcome.result.written == 1
    assert all("limit" not in r.params for r in slack.requests[first:]), "remembered per source"
    assert len(combos(tmp_path)) == 41


@pytest.mark.parametrize("cursor", ["offset", "ignored"])
def test_a_first_run_spread_over_every_day_lands_at_most_two_objects_a_day(
    slack: FakeSlack, tmp_path: Path, cursor: str
) -> None:
    """The issue's 150,000 combinations sorted by `date_first` landed as 735 objects of
    204 rows: a commit every 10,000 rows, each writing one object per day its rows (by
    `date_last`) touch. Scaled down tenfold here (15,000 rows, objects of at most 1,000):
    the walk still commits as it goes, every 10,000 rows."""
    slack.access_cursor = cursor
    slack.access_sort_key = slack.access_before_field = "date_first"
    _large(slack, 15_000)
    path = _config(tmp_path, slack, batch_max_events=1000)
    assert main(["once", "--config", str(path)]) == 0
    got = combos(tmp_path)
    assert len(got) == 15_000 and set(got.values()) == {1}
    per_day = partial_objects_per_day(tmp_path, 1000)
    assert len(per_day) > 80 and max(per_day.values()) <= 2, sorted(per_day.values())[-5:]


def partial_objects_per_day(tmp_path: Path, max_events: int) -> Counter[Path]:
    """Objects per daily partition, leaving out full ones (`max_events` rows): a day with
    more rows than one object holds has several in any case (here the day of the newest
    `date_last`, where most rows fall)."""
    return Counter(
        p.parent
        for p in (tmp_path / "out").rglob("*.json.gz")
        if len(gzip.decompress(p.read_bytes()).splitlines()) < max_events
    )


def _config(tmp_path: Path, slack: FakeSlack, batch_max_events: int = 10_000) -> Path:
    """No search index beside the objects: what these tests count is the objects and the
    rows in them, and building the index was half of a 150,000-row first run's time (the
    index over a resumed first run is `tests/test_search_index_crash.py`'s concern)."""
    path = tmp_path / "config.toml"
    path.write_text(
        f'[state]\npath = "{tmp_path}/state.db"\n[output]\ntype = "local"\npath = "{tmp_path}/out"\n'
        f"batch_max_events = {batch_max_events}\nsearch_index = false\n"
        f'[metrics]\nenabled = false\n[[sources]]\nid = "acme"\ntoken_env = "{TOKEN_ENV}"\n'
        f'log_types = ["access"]\nweb_api_url = "{slack.web_api_url}"\nretry_attempts = 1\n'
        "web_calls_per_minute = 100000\nfirst_run_lookback_seconds = 7776000\n"
    )
    return path


def _large(slack: FakeSlack, n: int) -> None:
    """n combinations first seen over 89 days, most of them seen again since."""
    t = now()
    rows = []
    for i in range(n):
        first = t - 120 - (i * 7919) % (89 * 86_400)
        last = min(t - 60, first + (i * 104729) % 3_000_000 // (1 + i % 3))
        ip = f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}"
        rows.append(access(f"U{i // 5}", ip, "UA", first, last))
    slack.add_access(rows)


@pytest.mark.slow
@pytest.mark.timeout(240)
@pytest.mark.parametrize("cursor", ["offset", "ignored"])
def test_150000_combinations_land_once_and_a_restart_resumes_the_first_run(
    slack: FakeSlack,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    cursor: str,
) -> None:
    """The issue's first report: 150,000 combinations sorted by date_first (classic:
    filtered by date_first too, the safe pairing). The first run stops at its 60th page
    (Slack fails until a restart); the second resumes there and exits 0."""
    monkeypatch.setenv(TOKEN_ENV, "xoxp-test-token")
    slack.access_cursor = cursor
    slack.access_sort_key = slack.access_before_field = "date_first"
    _large(slack, 150_000)
    path = _config(tmp_path, slack)

    def outage(method: str, params: dict[str, str]) -> None:
        if slack.count(ACCESS_METHOD) == 60:
            slack.set_error(ACCESS_METHOD, "fatal_error")

    slack.on_request = outage
    assert main(["once", "--config", str(path)]) == 1
    stopped = len(slack.requests)
    kept = checkpoint(tmp_path)
    assert "walk" in kept and "newest" not in kept, "progress kept, the watermark not moved"
    slack.on_request = None
    slack.set_error(ACCESS_METHOD, None)

    assert main(["once", "--config", str(path)]) == 0

    resumed = slack.requests[stopped:]
    assert len(resumed) <= 150 - 50, "resumed where it stopped, not from the top"
    assert all(int(r.params.get("count") or r.params["limit"]) == 1000 for r in resumed)
    got = combos(tmp_path)
    assert len(got) == 150_000 and set(got.values()) == {1}
    assert "walk" not in checkpoint(tmp_path)
    per_day = partial_objects_per_day(tmp_path, 10_000)
    assert max(per_day.values()) <= 2, "one object per day and run, not one per 10,000 rows"
    capsys.readouterr()


@pytest.mark.slow
@pytest.mark.parametrize(("sort_key", "before_field"), COMBINATIONS)
def test_a_126_page_listing_with_rows_bumped_while_paging_does_not_fail_a_first_run(
    slack: FakeSlack, tmp_path: Path, sort_key: str, before_field: str
) -> None:
    """The issue's second report: 25,000 combinations at page_size 200 (126 pages), rows
    touched between pages, classic paging: the backlog is read 1000 a page, in 25, and
    succeeds; rows bumped to the top after the walk passed them land with the next poll."""
    slack.access_cursor = "ignored"
    slack.access_sort_key, slack.access_before_field = sort_key, before_field
    _large(slack, 25_000)
    t = now()

    def bump(method: str, params: dict[str, str]) -> None:
        for i in range(slack.count(ACCESS_METHOD) * 997 % 25_000, 25_000, 2_500):
            slack.touch_access(f"U{i // 5}", f"10.0.{i // 256 % 256}.{i % 256}", "UA", t)

    slack.on_request = bump
    settings = local_settings(
        tmp_path,
        source(slack, log_types=["access"], page_size=200, first_run_lookback_seconds=7_776_000),
    )

    [outcome] = once(settings)
    slack.on_request = None
    [after] = once(settings)

    assert outcome.ok and after.ok, (outcome.detail, after.detail)
    first_run = [r for r in slack.requests if "page" in r.params][: outcome.result.pages]
    assert all(r.params.get("count") == "1000" for r in first_run)
    got = combos(tmp_path)
    assert len(got) == 25_000 and set(got.values()) == {1}, "bumped past the walk: next poll"
