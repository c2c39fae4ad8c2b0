"""The detections' state in its own namespace: how a store of the previous release
(marks, groups and action lists among the alerts) is upgraded, on SQLite at open and on
DynamoDB key by key as it is read; and how the anomaly marks are pruned."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import orjson

from connector.state import SqliteOptions
from tests.conftest import dynamodb_options

MARKS_V3 = {
    "detections:anomaly:seen:acme:Ev1": {"at": 1_700_000_000},
    "detections:catalog:new:actions:user_login": {"at": 5},
    "detections:catalog:unlisted:odd_action": {"at": 6},
}
STATE_V3 = {
    "detections:catalog": {"actions": ["user_login"], "schemas": [], "read_at": 5},
    "detections:anomaly:group:acme:bob@example.com": {
        "key": "detections:anomaly:acme:bob@example.com:Ev1",
        "start": 1_700_000_000_000_000,
        "count": 2,
        "reasons": ["tor"],
        "severity": "high",
        "previous": {},
    },
}
"""What issue 28's release kept in the alert table for the detections."""
OPEN = {"acme:audit:no_events": {"open": True}}


def test_a_sqlite_file_of_the_previous_release_moves_the_detections_out_of_the_alerts(
    tmp_path: Path,
) -> None:
    path = tmp_path / "state.db"
    SqliteOptions(path=str(path)).open().close()
    with sqlite3.connect(path) as db:
        db.execute("DROP TABLE detections")
        db.execute("DROP TABLE detection_marks")
        db.execute("PRAGMA user_version = 3")
        for key_, value in {**MARKS_V3, **STATE_V3, **OPEN}.items():
            db.execute("INSERT INTO alerts VALUES (?, ?)", (key_, orjson.dumps(value)))
    store = SqliteOptions(path=str(path)).open()
    try:
        assert {k: store.detection_value(k) for k in STATE_V3} == STATE_V3
        assert {k: store.detection_mark(k) for k in MARKS_V3} == MARKS_V3
        assert list(store.open_alerts()) == list(OPEN)
        assert all(store.alert(k) is None for k in {**MARKS_V3, **STATE_V3})
        assert not any(store.mark_detection(k, {}) for k in MARKS_V3), "still marked"
        assert store.prune_detection_marks(1_700_000_001) == 1, "only the anomaly's is timed"
        assert store.detection_mark("detections:catalog:unlisted:odd_action") is not None
    finally:
        store.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 4


def test_a_dynamodb_table_of_the_previous_release_moves_each_detection_key_when_used(
    moto_endpoint: str,
) -> None:
    store: Any = dynamodb_options(moto_endpoint).open()
    try:
        for key_, value in {**MARKS_V3, **STATE_V3, **OPEN}.items():
            store.set_alert(key_, value)
        assert {k: store.detection_value(k) for k in STATE_V3} == STATE_V3
        assert not any(store.mark_detection(k, {"new": True}, time=1) for k in MARKS_V3)
        assert {k: store.detection_mark(k) for k in MARKS_V3} == MARKS_V3
        assert all(store.alert(k) is None for k in {**MARKS_V3, **STATE_V3}), "moved, not copied"
        assert list(store.open_alerts()) == list(OPEN)
        assert {k: store.detection_value(k) for k in STATE_V3} == STATE_V3
        assert store.prune_detection_marks(1_700_000_001) == 1
        for key_, value in {**MARKS_V3, **STATE_V3}.items():
            store.set_alert(key_, value)  # never read again after the upgrade
        assert store.prune_detection_marks(1_700_000_001) == 1, "moved, then pruned"
        assert all(store.alert(k) is None for k in {**MARKS_V3, **STATE_V3})
        assert store.detection_value("detections:catalog") == STATE_V3["detections:catalog"]
        assert store.detection_mark("detections:catalog:unlisted:odd_action") is not None
    finally:
        store.close()
