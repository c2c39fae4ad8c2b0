"""The SQLite state file's tables, and the one-way upgrade of an older file to them.

Kept apart from the store because it changes on a different clock: the store's queries
follow the pipeline, the schema follows the on-disk format, and the v1 upgrade is frozen
history that only ever runs once per file (`PRAGMA user_version` says which format a
file is in). Nothing here may change without a new `VERSION` and a migration step.
"""

from __future__ import annotations

import sqlite3

import orjson

from connector.state.keys import seen_key

SCHEMA = """
CREATE TABLE IF NOT EXISTS checkpoints (
    source_id TEXT NOT NULL, log_type TEXT NOT NULL, value BLOB NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (source_id, log_type)
);
CREATE TABLE IF NOT EXISTS streams (
    id INTEGER PRIMARY KEY, source_id TEXT NOT NULL, log_type TEXT NOT NULL,
    UNIQUE (source_id, log_type)
);
CREATE TABLE IF NOT EXISTS seen_keys (
    stream INTEGER NOT NULL, key BLOB NOT NULL,
    PRIMARY KEY (stream, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS writes (
    source_id TEXT NOT NULL, log_type TEXT NOT NULL, object_key TEXT NOT NULL,
    size INTEGER, row_keys BLOB NOT NULL, created_at INTEGER NOT NULL,
    PRIMARY KEY (source_id, log_type, object_key)
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS alerts (key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS watchlist (key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS detections (key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS detection_marks (
    key TEXT PRIMARY KEY, value BLOB NOT NULL, time INTEGER
);
CREATE INDEX IF NOT EXISTS detection_marks_time ON detection_marks (time) WHERE time IS NOT NULL;
CREATE TABLE IF NOT EXISTS status (
    source_id TEXT NOT NULL, log_type TEXT NOT NULL, value BLOB NOT NULL,
    PRIMARY KEY (source_id, log_type)
);
"""
VERSION = 4
WATCHLIST_PREFIX = "watchlist:"
"""v2 kept the watchlist's keys in `alerts`, all under this prefix; v3 moves them to
`watchlist`. Frozen history."""
DETECTIONS_PREFIX = "detections:"
V3_MARKS = ("detections:anomaly:seen:", "detections:catalog:new:", "detections:catalog:unlisted:")
"""v3 kept the detections' state and marks in `alerts` under `DETECTIONS_PREFIX`; v4 moves
the marks (these prefixes) to `detection_marks` and the rest to `detections`. An anomaly
mark keeps the host time it was set at as its time (v3 stored no event time): pruned a
retention after that instead. Frozen history."""
V1_TIME_KEYED = frozenset({"audit"})
"""Log types whose v1 keys become time-ordered in v2 (their stored event time is the
record's, which never changes). Frozen history: tests hold it to `LogType.time_keyed`."""


def migrate(db: sqlite3.Connection) -> None:
    """Bring a state file written by an older version up to `VERSION`, in one transaction.

    v1 kept each dedupe key as hex text with its event time, and intents as JSON. One
    thing cannot carry over: v1 stored a quarantined audit record's key with the time it
    was parsed, v2 with the record's own time, so an invalid audit record that Slack
    sends again in the first late-event overlap after the upgrade is quarantined once
    more. Valid records keep their keys exactly.
    """
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version >= VERSION:
        return
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    db.execute("BEGIN IMMEDIATE")
    try:
        if "seen" in tables:
            db.execute(
                "INSERT OR IGNORE INTO streams (source_id, log_type) "
                "SELECT DISTINCT source_id, log_type FROM seen"
            )
            streams = {(s, lt): i for i, s, lt in db.execute("SELECT * FROM streams")}
            rows = db.execute("SELECT source_id, log_type, key, event_ts FROM seen")
            while chunk := rows.fetchmany(10_000):
                db.executemany(
                    "INSERT OR IGNORE INTO seen_keys VALUES (?, ?)",
                    [
                        (streams[(s, lt)], seen_key(k, ts if lt in V1_TIME_KEYED else None))
                        for s, lt, k, ts in chunk
                    ],
                )
            db.execute("DROP TABLE seen")
        if "intents" in tables:
            for s, lt, key, blob, created in db.execute("SELECT * FROM intents").fetchall():
                value = orjson.loads(blob)
                size, rows_ = (
                    (value.get("size"), value["keys"]) if isinstance(value, dict) else (None, value)
                )
                packed = b"".join(
                    seen_key(k, ts if lt in V1_TIME_KEYED else None) for k, ts in rows_
                )
                db.execute(
                    "INSERT OR REPLACE INTO writes VALUES (?, ?, ?, ?, ?, ?)",
                    (s, lt, key, size, packed, created),
                )
            db.execute("DROP TABLE intents")
        if "alerts" in tables:
            _move_watchlist(db)
            _move_detections(db)
        db.execute(f"PRAGMA user_version = {VERSION}")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def _move_watchlist(db: sqlite3.Connection) -> None:
    """v2 -> v3: the watchlist's keys leave the alert table for their own."""
    prefix = (WATCHLIST_PREFIX, len(WATCHLIST_PREFIX))
    db.execute(
        "INSERT OR IGNORE INTO watchlist SELECT key, value FROM alerts "
        "WHERE substr(key, 1, ?2) = ?1",
        prefix,
    )
    db.execute("DELETE FROM alerts WHERE substr(key, 1, ?2) = ?1", prefix)


def _move_detections(db: sqlite3.Connection) -> None:
    """v3 -> v4: the detections' marks and state leave the alert table for their own."""
    rows = db.execute(
        "SELECT key, value FROM alerts WHERE substr(key, 1, ?2) = ?1",
        (DETECTIONS_PREFIX, len(DETECTIONS_PREFIX)),
    ).fetchall()
    for key, value in rows:
        if key.startswith(V3_MARKS):
            at = orjson.loads(value).get("at") if key.startswith(V3_MARKS[0]) else None
            db.execute(
                "INSERT OR IGNORE INTO detection_marks VALUES (?, ?, ?)",
                (key, value, at if isinstance(at, int) else None),
            )
        else:
            db.execute("INSERT OR IGNORE INTO detections VALUES (?, ?)", (key, value))
        db.execute("DELETE FROM alerts WHERE key = ?", (key,))
