"""Searches from Slack run in worker processes (`search.worker`): the same answer as in
the daemon's process, at most `processes` at once, and stopped at the deadline with the
command that finishes the search."""

from __future__ import annotations

import re
import threading
import time
from datetime import datetime
from pathlib import Path

import orjson
import pytest

from connector.config.settings import OutputConfig
from connector.indicators.match import parse
from connector.search.query import Searcher
from connector.search.results import SearchError, Window
from connector.search.worker import SearchWorkers
from tests.fakes.slack_server import FakeSlack
from tests.test_one_match_rule import land as land_events
from tests.test_one_match_rule import planted
from tests.test_search import land, write_config


@pytest.fixture
def output(slack: FakeSlack, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> OutputConfig:
    from connector.cli.main import main

    land(slack)
    out = {"type": "local", "path": str(tmp_path / "out")}
    assert main(["once", "--config", write_config(tmp_path, slack, out)]) == 0
    return OutputConfig(type="local", path=str(tmp_path / "out"))


@pytest.mark.slow
def test_workers_answer_what_the_daemon_would_and_stop_at_the_deadline(
    output: OutputConfig,
) -> None:
    indicators = [parse("203.0.113.0/24"), parse("text:quarterly")]
    window = Window.last()
    searcher = Searcher(output)
    try:
        here = searcher.find(indicators, window, limit=7)
    finally:
        searcher.close()
    workers = SearchWorkers(output, processes=2, deadline=120)
    try:
        answers: list[object] = []
        threads = [
            threading.Thread(target=lambda: answers.append(workers.find(indicators, window, 7)))
            for _ in range(4)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(180)
        assert len(answers) == 4
        for there in answers:
            assert [h.row for h in there.hits] == [h.row for h in here.hits]  # type: ignore[attr-defined]
            assert [(s.indicator, s.count) for s in there.summaries] == [  # type: ignore[attr-defined]
                (s.indicator, s.count) for s in here.summaries
            ]
        workers.deadline = 0.001
        with pytest.raises(SearchError) as cut:
            workers.find(indicators, window, 7)
        said = str(cut.value)
        assert "not finished after" in said and "slack-connector search" in said
        assert "--all" in said and "ip:203.0.113.0/24" in said
        workers.deadline = 120
        assert workers.find(indicators, window, 7).total == here.total, "a new pool serves"
    finally:
        workers.close()


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_a_search_past_its_deadline_says_how_far_it_got(tmp_path: Path) -> None:
    """A month landed by the connector's own code, searched by one worker under longer
    and longer deadlines until one stops part way: its answer says
    how many objects of how many it searched, the time range they cover and the matches
    in them, which are exactly the matches of that range, and the command for the rest."""
    office = "203.0.113.50"
    events = [planted(i, 60 + i * 6_000, **({"ip": office} if i % 3 else {})) for i in range(400)]
    lines = land_events(tmp_path / "out", events, [True, False])
    output = OutputConfig(type="local", path=str(tmp_path / "out"))
    objects = len(list((tmp_path / "out").rglob("*.json.gz")))
    indicator = parse(office)
    workers = SearchWorkers(output, processes=1, deadline=60)
    said = None
    try:
        deadline = 0.05
        while said is None and deadline < 120:
            assert workers.ready(120)
            workers.deadline = deadline
            try:
                workers.find([indicator], Window.last(), 5)
            except SearchError as exc:
                got = PROGRESS.search(str(exc))
                if got and 0 < int(got["searched"]) < int(got["objects"]):
                    said = (got, str(exc))
            deadline *= 1.5
    finally:
        workers.close()
    assert said is not None, "no deadline stopped the search part way"
    got, text = said
    assert int(got["objects"]) == objects
    since = datetime.fromisoformat(got["since"])
    held = [orjson.loads(line) for line in lines]
    so_far = [
        r
        for r in held
        if indicator.matches(r, orjson.dumps(r).decode())
        and datetime.fromisoformat(r["p_event_time"]) >= since
    ]
    assert int(got["matches"]) == len(so_far) and not got["at_least"]
    assert "slack-connector search" in text and "--all" in text and f"ip:{office}" in text


PROGRESS = re.compile(
    r"searched (?P<searched>\d+) of (?P<objects>\d+) object\(s\) "
    r"\((?P<since>\S+) to (?P<until>\S+)\), (?P<at_least>at least )?(?P<matches>\d+) matching"
)


@pytest.mark.slow
def test_a_search_waiting_on_a_worker_when_the_daemon_closes_is_told_why(
    output: OutputConfig,
) -> None:
    """`App.close()` while `/seclogs` waits on a worker: the search's pool is killed, and
    the search is answered with a `SearchError` the analyst reads at the response_url.
    It used to raise `AttributeError` (the killed pool killed again, its process table
    gone; logged as "posting to response_url failed") and start a new pool after the
    close."""
    workers = SearchWorkers(output, processes=1, deadline=120)
    try:
        assert workers.ready(120)
        busy = workers._pool.executor.submit(time.sleep, 120)
        said: list[str] = []

        def ask() -> None:
            try:
                workers.find([parse("203.0.113.0/24")], Window.last(), 7)
                said.append("answered")
            except Exception as exc:
                said.append(f"{type(exc).__name__}: {exc}")

        thread = threading.Thread(target=ask)
        thread.start()
        thread.join(1)
        assert thread.is_alive(), "the search waits behind the busy worker"
        workers.close()
        thread.join(60)
        assert said == ["SearchError: the connector is shutting down; ask again later"]
        assert busy.done() and workers._pool.stopped.is_set(), "no pool started after close"
    finally:
        workers.close()
