"""A process that dies while a poll's anomalies are on their way to an alert loses none
and sends none twice: a crash is injected at every write the detector makes to the state
store in turn (on SQLite and on DynamoDB in moto's server mode), then a new process
carries on, reading the page again when it was not committed yet (the detector sees a
page before its batch is written) and, in a second run, reading it again regardless."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from connector.alerts.base import Alert
from connector.config.detections import AnomalyConfig
from connector.detections.anomalies import AnomalyAlerts
from connector.detections.outbox import CHUNK
from connector.state import SqliteOptions
from tests import factories
from tests.conftest import dynamodb_options

T0 = 1_787_680_000
OUTBOX = "detections:anomaly:outbox"
WRITES = frozenset({"mark_detection", "set_detection_value", "prune_detection_marks"})


class Crash(BaseException):
    """The process dies here (a BaseException: no `except Exception` survives it)."""


class CrashingStore:
    """A real store that dies at its `at`-th write, before making it."""

    def __init__(self, store: Any, at: int) -> None:
        self.store, self.at, self.writes = store, at, 0

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.store, name)
        if name not in WRITES:
            return method

        def write(*args: Any, **kw: Any) -> Any:
            self.writes += 1
            if self.writes == self.at:
                raise Crash(name)
            return method(*args, **kw)

        return write


def page() -> list[bytes]:
    rows = [
        factories.anomaly(1, T0, email="bob@example.com"),
        factories.anomaly(2, T0 + 60, email="bob@example.com"),
        factories.anomaly(3, T0 + 30, ("tor", "ip_address"), email="carol@example.com"),
        factories.audit(4, T0),
    ]
    return [orjson.dumps({**r, "p_source_id": "acme", "p_source_label": "Acme"}) for r in rows]


EXPECTED = [
    "Slack anomaly: bob@example.com — asn, ip_address (2 anomalies)",
    "Slack anomaly: carol@example.com — tor, ip_address",
]


def run(options: Any, crash_at: int, reread_always: bool) -> tuple[list[Alert], bool]:
    """One poll that may crash, then the next process's polls; every alert handed over."""
    sent: list[Alert] = []
    cfg = AnomalyConfig()
    store = options.open()
    stage = "scan"
    try:
        detector = AnomalyAlerts(cfg, CrashingStore(store, crash_at), sent.append)
        detector.scan(page())
        stage = "poll_done"
        detector.poll_done("acme", "audit")
        stage = "finished"
    except Crash:
        pass
    finally:
        store.close()
    store = options.open()
    try:
        after = AnomalyAlerts(cfg, store, sent.append)
        if stage == "scan" or reread_always:
            after.scan(page())
        after.poll_done("acme", "audit")
        after.poll_done("acme", "audit")
        after.scan(page())  # the late-event overlap reads it once more
        after.poll_done("acme", "audit")
        assert store.open_alerts() == {}
    finally:
        store.close()
    return sent, stage == "finished"


@pytest.mark.parametrize("backend", ["sqlite", "dynamodb"])
@pytest.mark.parametrize("reread_always", [False, True])
def test_a_crash_at_any_write_neither_loses_nor_repeats_an_alert(
    backend: str, reread_always: bool, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    crash_at, survived = 1, False
    while not survived:
        if backend == "sqlite":
            options: Any = SqliteOptions(path=str(tmp_path / f"state-{crash_at}.db"))
        else:
            options = dynamodb_options(request.getfixturevalue("moto_endpoint"))
        sent, survived = run(options, crash_at, reread_always)
        summaries = sorted(a.summary for a in sent)
        assert summaries == EXPECTED, f"crash at write {crash_at}"
        assert {a.status for a in sent} == {"trigger"}
        crash_at += 1
    assert crash_at > 5, "the crash points covered every write of the poll"


def test_a_large_burst_is_kept_in_bounded_items_and_alerted_once_after_a_crash(
    tmp_path: Path,
) -> None:
    """120 users' anomalies in one page: the outbox holds them in items of `CHUNK` rows
    (DynamoDB caps an item at 400 KB), and all are alerted once after the crash."""
    options = SqliteOptions(path=str(tmp_path / "state.db"))
    users = [
        orjson.dumps(
            {
                **factories.anomaly(i, T0 + i, email=f"u{i}@example.com"),
                "p_source_id": "acme",
                "p_source_label": "Acme",
            }
        )
        for i in range(1, 121)
    ]
    sent: list[Alert] = []
    store = options.open()
    AnomalyAlerts(AnomalyConfig(), store, sent.append).scan(users)  # then the process dies
    store.close()
    store = options.open()
    try:
        head = store.detection_value(f"{OUTBOX}:acme")
        assert head is not None and head["chunks"] == -(-120 // CHUNK)
        assert all(
            len(store.detection_value(f"{OUTBOX}:acme:{i}")["rows"]) <= CHUNK  # type: ignore[index]
            for i in range(head["chunks"])
        )
        after = AnomalyAlerts(AnomalyConfig(), store, sent.append)
        after.poll_done("acme", "audit")
        after.poll_done("acme", "audit")
        assert sorted(a.context["user"] for a in sent) == sorted(
            f"u{i}@example.com" for i in range(1, 121)
        )
        assert store.detection_value(f"{OUTBOX}:acme") == {}
        assert store.detection_value(f"{OUTBOX}:acme:0") == {}
    finally:
        store.close()
