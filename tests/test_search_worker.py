"""Searches from Slack run in worker processes (`search.worker`): the same answer as in
the daemon's process, at most `processes` at once, and stopped at the deadline with the
command that finishes the search."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from connector.config.settings import OutputConfig
from connector.indicators.match import parse
from connector.search.query import Searcher, SearchError, Window
from connector.search.worker import SearchWorkers
from tests.fakes.slack_server import FakeSlack
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
