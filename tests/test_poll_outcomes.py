"""What a poll reports when the state store falters after or around its work: a status
write that fails once the poll committed is a warning, not a failed poll; a lease that
lapsed here is told apart from one another replica took."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connector.service.app import App
from connector.state import LeaseLost, StateError
from tests.conftest import local_settings, read_local, source
from tests.factories import audit, now
from tests.fakes.slack_server import FakeSlack


@pytest.fixture
def app(slack: FakeSlack, tmp_path: Path) -> Iterator[App]:
    t = now()
    slack.add_audit(audit(i, t - 10) for i in range(5))
    opened = App(local_settings(tmp_path, source(slack, log_types=["audit"])))
    yield opened
    opened.close()


def test_a_status_write_that_fails_after_a_committed_poll_is_a_warning(
    app: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def refuse(*args: Any) -> None:
        raise StateError("state table t: ProvisionedThroughputExceededException")

    monkeypatch.setattr(app.store, "set_status", refuse)
    outcome = app.poll("acme", "audit")
    assert outcome.ok, outcome.detail
    assert len(read_local(tmp_path / "out")) == 5
    assert app.store.checkpoint("acme", "audit") is not None
    messages = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert ("WARNING", "poll status not recorded") in messages
    assert not [m for level, m in messages if level == "ERROR"], messages


@pytest.mark.parametrize(
    ("lapsed", "level", "message"),
    [
        (True, "WARNING", "poll ended: lease lapsed"),
        (False, "INFO", "poll ended: lease moved to another replica"),
    ],
)
def test_a_poll_ended_by_its_lease_says_whether_it_lapsed_or_moved(
    app: App,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    lapsed: bool,
    level: str,
    message: str,
) -> None:
    def refuse(*args: Any, **kw: Any) -> None:
        raise LeaseLost("lease on source 'acme' log type 'audit' gone", lapsed=lapsed)

    monkeypatch.setattr(app.store, "commit", refuse)
    outcome = app.poll("acme", "audit")
    assert outcome.state == "lease_lost"
    found = [(r.levelname, r.getMessage()) for r in caplog.records if "poll ended" in r.message]
    assert found == [(level, message)]
