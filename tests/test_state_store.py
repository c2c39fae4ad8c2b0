"""The state store's key layout: time-ordered dedupe keys, pruning by range, and the
upgrade of a state file written by the first version (hex keys, JSON intents)."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import orjson

from connector.ingest.enrich import Source
from connector.ingest.identity import RowIds
from connector.logtypes import REGISTRY
from connector.state.keys import NO_TIME, seen_key
from connector.state.sqlite import StateStore
from connector.state.sqlite_schema import V1_TIME_KEYED

V1_SCHEMA = """
CREATE TABLE seen (
    source_id TEXT NOT NULL, log_type TEXT NOT NULL, key TEXT NOT NULL, event_ts INTEGER NOT NULL,
    PRIMARY KEY (source_id, log_type, key)
) WITHOUT ROWID;
CREATE TABLE intents (
    source_id TEXT NOT NULL, log_type TEXT NOT NULL, object_key TEXT NOT NULL,
    row_keys BLOB NOT NULL, created_at INTEGER NOT NULL,
    PRIMARY KEY (source_id, log_type, object_key)
);
"""


def v1_row_id(source: str, log_type: str, key: str) -> str:
    """The first version's row id, which p_row_id still is."""
    return hashlib.sha256(f"{source}\x1f{log_type}\x1f{key}".encode()).hexdigest()[:32]


def test_row_ids_are_unchanged_and_keys_start_with_the_inverted_event_time() -> None:
    audit = REGISTRY["audit"]()
    rid, key = RowIds(Source("acme", "Acme"), audit).of({"id": "abc", "date_create": 1_700_000_000})
    assert rid == v1_row_id("acme", "Slack.AuditLogs", "abc")
    assert key == (NO_TIME - 1_700_000_000).to_bytes(4, "big") + bytes.fromhex(rid[:24])
    older = RowIds(Source("acme", "Acme"), audit).of({"id": "abd", "date_create": 1_600_000_000})
    assert older[1] > key


def test_keys_of_log_types_whose_time_changes_are_not_time_ordered() -> None:
    access = REGISTRY["access"]()
    raw = {"user_id": "U1", "ip": "1.2.3.4", "user_agent": "x", "date_last": 1_700_000_000}
    _, key = RowIds(Source("acme", "Acme"), access).of(raw)
    _, later = RowIds(Source("acme", "Acme"), access).of({**raw, "date_last": 1_800_000_000})
    assert key == later and key[:4] == bytes(4)


def test_v1_time_keyed_is_the_log_types_that_are_time_keyed_now() -> None:
    assert {name for name, cls in REGISTRY.items() if cls.time_keyed} == V1_TIME_KEYED


def test_pruning_forgets_older_keys_and_keeps_newer_and_timeless_ones(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.db")
    keys = {ts: seen_key(f"{ts:032x}", ts) for ts in (100, 199, 200, 300)}
    timeless = seen_key("f" * 32, None)
    store.commit("acme", "audit", keys=[*keys.values(), timeless])
    store.commit("acme", "audit", prune_before=200)
    left = store.seen("acme", "audit", [*keys.values(), timeless])
    assert left == {keys[200], keys[300], timeless}


def test_a_v1_state_file_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    db = sqlite3.connect(path)
    db.executescript(V1_SCHEMA)
    audit_rid = v1_row_id("acme", "Slack.AuditLogs", "evt-1")
    access_rid = v1_row_id("acme", "Slack.AccessLogs", "combo")
    db.executemany(
        "INSERT INTO seen VALUES (?, ?, ?, ?)",
        [
            ("acme", "audit", audit_rid, 1_700_000_000),
            ("acme", "access", access_rid, 1_700_000_500),
        ],
    )
    pending = {"size": 123, "keys": [[audit_rid, 1_700_000_000]]}
    db.execute(
        "INSERT INTO intents VALUES (?, ?, ?, ?, ?)",
        ("acme", "audit", "slack/obj.json.gz", orjson.dumps(pending), 1),
    )
    db.commit()
    db.close()

    store = StateStore(path)
    audit_key = seen_key(audit_rid, 1_700_000_000)
    access_key = seen_key(access_rid, None)
    assert store.seen("acme", "audit", [audit_key]) == {audit_key}
    assert store.seen("acme", "access", [access_key]) == {access_key}
    [intent] = store.intents("acme", "audit")
    assert (intent.object_key, intent.size, intent.row_keys) == (
        "slack/obj.json.gz",
        123,
        [audit_key],
    )
    store.close()

    tables = {r[0] for r in sqlite3.connect(path).execute("SELECT name FROM sqlite_master")}
    assert "seen" not in tables and "intents" not in tables
    assert StateStore(path).count_seen("acme", "audit") == 1


def test_seen_answers_by_range_and_by_key_alike(tmp_path: Path) -> None:
    """A narrow range (time-ordered keys) and a range holding far more keys than asked
    about (keys without time) must give the same answer."""
    store = StateStore(tmp_path / "state.db")
    timed = [seen_key(f"{i:032x}", 1_700_000_000 + i) for i in range(0, 200, 2)]
    timeless = [seen_key(f"{i:032x}", None) for i in range(0, 200, 2)]
    store.commit("acme", "audit", keys=timed)
    store.commit("acme", "access", keys=timeless)
    for log_type, ts in (("audit", lambda i: 1_700_000_000 + i), ("access", lambda i: None)):
        asked = [seen_key(f"{i:032x}", ts(i)) for i in (0, 1, 98, 99, 198, 199)]
        assert store.seen("acme", log_type, asked) == {asked[0], asked[2], asked[4]}
    narrow = [seen_key(f"{i:032x}", 1_700_000_000 + i) for i in (10, 11, 12)]
    assert store.seen("acme", "audit", narrow) == {narrow[0], narrow[2]}
    assert store.seen("acme", "audit", []) == set()
    assert store.seen("acme", "other", timed) == set()
