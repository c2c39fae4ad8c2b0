"""The state-store contract, run against both backends: the SQLite file and the DynamoDB
table (moto's server mode over a real socket on 127.0.0.1).

Whatever the pipeline, runner, alert rules and CLI rely on is pinned here once, so a
replica on DynamoDB behaves like a single process on SQLite.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connector.state import LeaseLost, SqliteOptions, StateStore, UnitOfWork
from connector.state.base import Intent
from connector.state.keys import seen_key
from tests.conftest import dynamodb_options

STREAMS = [("acme", "audit"), ("acme", "access"), ("acme", "integration"), ("beta", "audit")]


@pytest.fixture(params=["sqlite", "dynamodb"])
def options(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    if request.param == "sqlite":
        return SqliteOptions(path=str(tmp_path / "state.db"))
    return dynamodb_options(request.getfixturevalue("moto_endpoint"))


@pytest.fixture
def store(options: Any) -> Iterator[StateStore]:
    opened = options.open()
    opened.claim(STREAMS)
    yield opened
    opened.close()


def keys(n: int, start: int = 0, ts: int | None = 1_700_000_000) -> list[bytes]:
    return [seen_key(f"{i:032x}", None if ts is None else ts + i) for i in range(start, start + n)]


def test_a_fresh_store_is_empty_and_owns_what_it_claimed(store: StateStore) -> None:
    assert isinstance(store, StateStore)
    store.ping()
    assert store.checkpoint("acme", "audit") is None
    assert store.status("acme", "audit") is None
    assert store.intents("acme", "audit") == []
    assert store.count_seen("acme", "audit") == 0
    assert store.open_alerts() == {}
    assert all(store.owns(*s) for s in STREAMS)


def test_checkpoint_keys_and_intents_commit_together(store: StateStore) -> None:
    rows = keys(50)
    store.begin_write(
        "acme", "audit", {"a/1.json.gz": (123, rows[:30]), "a/2.json.gz": (9, rows[30:])}
    )
    pending = sorted(store.intents("acme", "audit"), key=lambda i: i.object_key)
    assert pending == [Intent("a/1.json.gz", rows[:30], 123), Intent("a/2.json.gz", rows[30:], 9)]
    assert store.seen("acme", "audit", rows) == set()
    store.commit(
        "acme",
        "audit",
        keys=rows,
        checkpoint={"next_oldest": 5},
        done_intents=["a/1.json.gz", "a/2.json.gz"],
    )
    assert store.intents("acme", "audit") == []
    assert store.checkpoint("acme", "audit") == {"next_oldest": 5}
    assert store.seen("acme", "audit", [*rows[:3], *keys(2, 1000)]) == set(rows[:3])
    assert store.count_seen("acme", "audit") == 50
    assert store.seen("acme", "access", rows) == set()
    assert store.checkpoint("beta", "audit") is None


def test_a_checkpoint_key_other_than_the_log_type(store: StateStore) -> None:
    store.commit("acme", "audit", checkpoint={"w": 1}, checkpoint_key="audit:backfill")
    assert store.checkpoint("acme", "audit:backfill") == {"w": 1}
    assert store.checkpoint("acme", "audit") is None


def test_many_keys_in_one_commit_and_timeless_keys(store: StateStore) -> None:
    """More keys than one packed DynamoDB item holds (20,000), with and without time."""
    timed, timeless = keys(45_000), keys(3_000, ts=None)
    store.commit("acme", "audit", keys=timed)
    store.commit("acme", "access", keys=timeless)
    assert store.count_seen("acme", "audit") == 45_000
    probe = [timed[0], timed[19_999], timed[20_000], timed[-1], *keys(3, 90_000)]
    assert store.seen("acme", "audit", probe) == set(probe[:4])
    assert store.seen("acme", "access", [timeless[7], *keys(2, 9_000, ts=None)]) == {timeless[7]}


def test_pruning_keeps_newer_and_timeless_keys(store: StateStore) -> None:
    old, new = keys(5, ts=1_000_000), keys(5, 10, ts=2_000_000)
    timeless = keys(5, 20, ts=None)
    store.commit("acme", "audit", keys=[*old, *new, *timeless])
    store.commit("acme", "audit", prune_before=1_500_000)
    assert store.seen("acme", "audit", [*new, *timeless]) == {*new, *timeless}


def test_status_alerts_and_open_alerts(store: StateStore) -> None:
    store.set_status("acme", "audit", {"state": "ok", "failures": 0})
    assert store.status("acme", "audit") == {"state": "ok", "failures": 0}
    store.set_alert("acme:audit:no_events", {"open": True, "since": 3})
    store.set_alert("acme:access:source_failing", {"open": False})
    store.set_alert("watch:1.2.3.4", {"sent_at": 7})
    assert store.alert("acme:audit:no_events") == {"open": True, "since": 3}
    assert store.alert("watch:1.2.3.4") == {"sent_at": 7}
    assert store.alert("nope") is None
    assert store.open_alerts() == {"acme:audit:no_events": {"open": True, "since": 3}}


def test_mark_is_set_once(options: Any) -> None:
    """Two replicas racing to alert on one event: exactly one of them marks it (SQLite
    is one process's file, so there the second caller is the same store again)."""
    first = options.open()
    second = options.open() if options.type == "dynamodb" else first
    try:
        key = "detections:anomaly:seen:acme:e1"
        assert [
            first.mark_detection(key, {"at": 1}, time=100),
            second.mark_detection(key, {"at": 2}, time=100),
        ] == [True, False]
        assert second.detection_mark(key) == {"at": 1}
        assert second.mark_detection("detections:anomaly:seen:acme:e2", {"at": 3}) is True
    finally:
        first.close()
        if second is not first:
            second.close()


def test_detections_keep_their_state_and_marks_apart_from_alert_state(store: StateStore) -> None:
    store.set_alert("acme:audit:no_events", {"open": True, "since": 3})
    store.set_detection_value("detections:catalog", {"actions": ["user_login"], "open": True})
    assert store.mark_detection("detections:anomaly:seen:acme:e1", {"open": True}, time=5)
    assert store.detection_value("detections:catalog") == {"actions": ["user_login"], "open": True}
    assert store.detection_value("detections:none") is None
    assert store.detection_mark("detections:none") is None
    assert store.alert("detections:catalog") is None
    assert store.alert("detections:anomaly:seen:acme:e1") is None
    assert list(store.open_alerts()) == ["acme:audit:no_events"]
    assert store.detection_value("acme:audit:no_events") is None


def test_marks_older_than_the_bound_are_pruned_and_untimed_ones_kept(store: StateStore) -> None:
    for i, t in enumerate((100, 199, 200, 300)):
        assert store.mark_detection(f"detections:anomaly:seen:acme:e{i}", {"i": i}, time=t)
    assert store.mark_detection("detections:catalog:unlisted:x", {"i": 9})
    assert store.prune_detection_marks(200) == 2
    assert store.prune_detection_marks(200) == 0
    assert store.detection_mark("detections:anomaly:seen:acme:e1") is None
    assert store.detection_mark("detections:anomaly:seen:acme:e2") == {"i": 2}
    assert store.detection_mark("detections:catalog:unlisted:x") == {"i": 9}
    assert store.mark_detection("detections:anomaly:seen:acme:e0", {"i": 0}, time=100)
    assert not store.mark_detection("detections:anomaly:seen:acme:e3", {}, time=300)


def test_the_watchlist_keeps_its_keys_apart_from_alert_state(store: StateStore) -> None:
    store.set_alert("acme:audit:no_events", {"open": True, "since": 3})
    store.set_watchlist_value("watchlist:added", {"indicators": ["1.2.3.4"]})
    store.set_watchlist_value("watchlist:ip:1.2.3.4:row", {"at": 5, "open": True})
    assert store.watchlist_value("watchlist:added") == {"indicators": ["1.2.3.4"]}
    assert store.watchlist_value("watchlist:none") is None
    assert store.alert("watchlist:added") is None
    assert list(store.open_alerts()) == ["acme:audit:no_events"]
    assert store.watchlist_value("acme:audit:no_events") is None


def test_reset_forgets_one_stream_only(store: StateStore) -> None:
    for source, log_type in STREAMS:
        store.commit(source, log_type, keys=keys(3), checkpoint={"at": 1})
        store.set_status(source, log_type, {"state": "ok"})
    store.begin_write("acme", "audit", {"x": (1, keys(1))})
    store.reset("acme", "audit")
    assert store.checkpoint("acme", "audit") is None
    assert store.status("acme", "audit") is None
    assert store.intents("acme", "audit") == []
    assert store.count_seen("acme", "audit") == 0
    assert store.seen("acme", "audit", keys(3)) == set()
    for other in STREAMS[1:]:
        assert store.checkpoint(*other) == {"at": 1}
        assert store.count_seen(*other) == 3


def test_summary_lists_every_stream_with_state(store: StateStore) -> None:
    store.commit("acme", "audit", keys=keys(4), checkpoint={"at": 1})
    store.set_status("acme", "audit", {"state": "ok"})
    store.begin_write("acme", "audit", {"x": (1, keys(1, 100))})
    row = next(r for r in store.summary() if (r["source_id"], r["log_type"]) == ("acme", "audit"))
    assert row["checkpoint"] == {"at": 1}
    assert row["status"] == {"state": "ok"}
    assert row["seen"] == 4
    assert row["pending_writes"] == 1


def test_state_survives_reopening(options: Any) -> None:
    first = options.open()
    first.claim(STREAMS)
    first.commit("acme", "audit", keys=keys(7), checkpoint={"at": 2})
    first.close()
    second = options.open()
    second.claim(STREAMS)
    try:
        assert second.checkpoint("acme", "audit") == {"at": 2}
        assert second.seen("acme", "audit", keys(8)) == set(keys(7))
        assert second.owns("acme", "audit")
    finally:
        second.close()


def test_token_pairs_round_trip_and_stamp_changes(options: Any) -> None:
    from pydantic import SecretStr

    from connector.slack.tokenset import TokenSet

    storage = options.token_storage("acme", None)
    assert storage.load() is None
    assert storage.stamp() is None
    pair = TokenSet(SecretStr("xoxe.xoxp-1-a"), SecretStr("xoxe-1-r"), expires_at=99, scopes=["x"])
    with storage.locked():
        storage.save(pair)
        first = storage.stamp()
    loaded = storage.load()
    assert loaded is not None and loaded.access_token.get_secret_value() == "xoxe.xoxp-1-a"
    with storage.locked():
        storage.save(TokenSet(SecretStr("xoxe.xoxp-1-b"), SecretStr("xoxe-1-s"), expires_at=100))
        assert storage.stamp() != first


def test_intents_outlive_a_crash_and_settle_by_what_was_written(options: Any) -> None:
    """As `Pipeline.recover` does after a crash: an object that exists makes its keys seen,
    one that was never written leaves nothing behind."""
    written, lost = keys(20), keys(20, 100)
    first = options.open()
    first.claim(STREAMS)
    first.begin_write("acme", "audit", {"a/written": (5, written), "a/lost": (6, lost)})
    first.close()
    second = options.open()
    second.claim(STREAMS)
    try:
        pending = {i.object_key: i for i in second.intents("acme", "audit")}
        assert pending["a/written"].row_keys == written and pending["a/lost"].size == 6
        second.commit("acme", "audit", keys=written, done_intents=["a/written", "a/lost"])
        assert second.intents("acme", "audit") == []
        assert second.seen("acme", "audit", [*written, *lost]) == set(written)
        assert second.count_seen("acme", "audit") == 20
    finally:
        second.close()
    third = options.open(replica=False)
    try:
        assert third.intents("acme", "audit") == []
        assert third.seen("acme", "audit", [*written, *lost]) == set(written)
    finally:
        third.close()


def test_a_unit_of_work_commits_its_uploads_keys_and_checkpoint_together(
    store: StateStore,
) -> None:
    rows = keys(30)
    unit = UnitOfWork(store, "acme", "audit", "audit:backfill")
    with unit.writing("a/1.json.gz", 11, rows[:20]):
        assert {i.object_key for i in store.intents("acme", "audit")} == {"a/1.json.gz"}
    with pytest.raises(OSError), unit.writing("a/2.json.gz", 12, rows[20:]):
        raise OSError("upload failed")
    assert unit.objects == ["a/1.json.gz"] and unit.bytes == 11
    assert store.seen("acme", "audit", rows) == set()  # nothing is seen before the commit
    assert unit.commit({"at": 5})
    assert store.checkpoint("acme", "audit:backfill") == {"at": 5}
    assert store.checkpoint("acme", "audit") is None
    assert store.seen("acme", "audit", rows) == set(rows[:20])
    assert [i.object_key for i in store.intents("acme", "audit")] == ["a/2.json.gz"]
    assert not UnitOfWork(store, "acme", "audit").commit()  # nothing written, no checkpoint


def test_a_unit_of_work_settles_what_a_crash_left_by_what_the_sink_holds(
    store: StateStore,
) -> None:
    written, lost = keys(5), keys(5, 100)
    store.begin_write("acme", "audit", {"a/written": (5, written), "a/lost": (6, lost)})
    asked: list[tuple[str, int | None]] = []

    def exists(key: str, size: int | None) -> bool:
        asked.append((key, size))
        return key == "a/written"

    restored: list[str] = []
    assert UnitOfWork(store, "acme", "audit").settle(exists, restored.append) == 2
    assert sorted(asked) == [("a/lost", 6), ("a/written", 5)]
    assert restored == ["a/written"]  # derived objects only for a data object that exists
    assert store.intents("acme", "audit") == []
    assert store.seen("acme", "audit", [*written, *lost]) == set(written)
    assert UnitOfWork(store, "acme", "audit").settle(exists, restored.append) == 0
    assert restored == ["a/written"]


def test_a_unit_of_work_settles_nothing_when_restoring_a_derived_object_fails(
    store: StateStore,
) -> None:
    """A lake bucket that is down keeps the intent: the next recovery tries again."""
    written = keys(5)
    store.begin_write("acme", "audit", {"a/written": (5, written)})

    def restore(key: str) -> None:
        raise OSError("lake bucket down")

    with pytest.raises(OSError):
        UnitOfWork(store, "acme", "audit").settle(lambda key, size: True, restore)
    assert [i.object_key for i in store.intents("acme", "audit")] == ["a/written"]
    assert store.seen("acme", "audit", written) == set()
    assert UnitOfWork(store, "acme", "audit").settle(lambda key, size: True) == 1
    assert store.seen("acme", "audit", written) == set(written)


def test_a_unit_of_work_uploads_nothing_for_a_stream_whose_lease_is_not_held(
    store: StateStore,
) -> None:
    """A private store owns every stream; a shared one only those it holds a lease on."""
    unit = UnitOfWork(store, "elsewhere", "audit")
    uploaded = []
    if store.shared:
        with pytest.raises(LeaseLost), unit.writing("x", 1, keys(1)):
            uploaded.append("x")
    else:
        with unit.writing("x", 1, keys(1)):
            uploaded.append("x")
    assert uploaded == ([] if store.shared else ["x"])
