"""SQLite state store, the embedded default.

One file holds checkpoints, the keys of events already written (the dedupe set), the
intents of writes in flight, and per-source status. Every commit is one transaction, so
a checkpoint and the dedupe keys of the batch it covers move together or not at all.
WAL with `synchronous=FULL`: a commit that returned survives a power cut.

Dedupe keys (`connector.state.keys`) are 16-byte blobs that start with the event time:
a million keys from a backfill append to the B-tree in order, where random text keys
dirtied a page each (24 µs an event at 1M keys then, 2 µs now), and forgetting old audit
keys is a range delete instead of a scan.

Write intents close the gap between "object written" and "state committed": before a
batch is written its object keys and row keys are committed as an intent; after a crash
the intent is resolved by asking the sink which objects exist, and only those objects'
keys become seen. A batch is then never lost and never written twice under two names.

This module is the store's queries; opening and locking the file is `sqlite_file`, the
tables and the v1 upgrade are `sqlite_schema`, and the key blob layout is `keyblob`.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

from connector import clock, fsutil
from connector.state.base import Intent, Keys, LeaseLost, StateError
from connector.state.keyblob import joined, split
from connector.state.keys import KEY_SIZE, forget_before
from connector.state.sqlite_file import exclusive_lock, open_read_only, open_writable, reason
from connector.state.sqlite_schema import VERSION  # the on-disk format, in __all__

log = logging.getLogger(__name__)


class StateStore:
    """Thread-safe: APScheduler runs one job per source and log type on a thread pool.

    One process per state file: an exclusive lock on `<path>.lock` keeps a second daemon
    (or a `once` next to a running daemon) from writing the same batches twice.
    """

    CHUNK = 500
    shared = False
    replica_id = "local"

    def __init__(self, path: str | Path, *, timeout: float = 10.0, read_only: bool = False) -> None:
        """`read_only` opens beside a running daemon: no lock, no schema change, no write.

        For `state show`, `metrics` and `check`, which on-call runs inside the live pod.
        """
        self.path = Path(path)
        self.read_only = read_only
        self._lock = threading.RLock()
        self._lockfile: int | None = None
        self._streams: dict[tuple[str, str], int] = {}
        try:
            if read_only:
                self._db = open_read_only(self.path, timeout)
                return
            fsutil.private_dir(self.path.parent)
            self._lockfile = exclusive_lock(self.path)
            self._db = open_writable(self.path, timeout)
        except (sqlite3.Error, OSError) as exc:
            self._release()
            raise StateError(f"state {self.path}: {reason(exc)}") from None

    def close(self) -> None:
        with self._lock:
            if hasattr(self, "_db"):
                self._db.close()
            self._release()

    def _release(self) -> None:
        if self._lockfile is not None:
            fsutil.unlock_file(self._lockfile)
            self._lockfile = None

    @contextmanager
    def _txn(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                    self._db.execute("COMMIT")
                except BaseException:
                    self._rollback()
                    raise
            except sqlite3.Error as exc:
                raise StateError(f"state {self.path}: {reason(exc)}") from None

    def _rollback(self) -> None:
        """End a transaction whose body or COMMIT failed (disk full, I/O error, a deferred
        constraint). SQLite keeps such a transaction open, and every later BEGIN would fail
        until a restart; when SQLite already rolled it back there is nothing to end."""
        if self._db.in_transaction:
            try:
                self._db.execute("ROLLBACK")
            except sqlite3.Error:
                log.warning("state: rollback failed", extra={"path": str(self.path)})

    @contextmanager
    def _reading(self) -> Iterator[None]:
        with self._lock:
            try:
                yield
            except sqlite3.Error as exc:
                raise StateError(f"state {self.path}: {reason(exc)}") from None

    def checkpoint(self, source_id: str, log_type: str) -> dict[str, Any] | None:
        return self._get("checkpoints", source_id, log_type)

    def status(self, source_id: str, log_type: str) -> dict[str, Any] | None:
        return self._get("status", source_id, log_type)

    def set_status(self, source_id: str, log_type: str, value: dict[str, Any]) -> None:
        with self._txn() as db:
            db.execute(
                "INSERT OR REPLACE INTO status VALUES (?, ?, ?)",
                (source_id, log_type, orjson.dumps(value)),
            )

    def alert(self, key: str) -> dict[str, Any] | None:
        with self._reading():
            row = self._db.execute("SELECT value FROM alerts WHERE key = ?", (key,)).fetchone()
        return orjson.loads(row[0]) if row else None

    def set_alert(self, key: str, value: dict[str, Any]) -> None:
        with self._txn() as db:
            db.execute("INSERT OR REPLACE INTO alerts VALUES (?, ?)", (key, orjson.dumps(value)))

    def detection_value(self, key: str) -> dict[str, Any] | None:
        with self._reading():
            row = self._db.execute("SELECT value FROM detections WHERE key = ?", (key,)).fetchone()
        return orjson.loads(row[0]) if row else None

    def set_detection_value(self, key: str, value: dict[str, Any]) -> None:
        with self._txn() as db:
            db.execute(
                "INSERT OR REPLACE INTO detections VALUES (?, ?)", (key, orjson.dumps(value))
            )

    def mark_detection(self, key: str, value: dict[str, Any], *, time: int | None = None) -> bool:
        with self._txn() as db:
            cur = db.execute(
                "INSERT OR IGNORE INTO detection_marks VALUES (?, ?, ?)",
                (key, orjson.dumps(value), time),
            )
            return cur.rowcount == 1

    def detection_mark(self, key: str) -> dict[str, Any] | None:
        with self._reading():
            row = self._db.execute(
                "SELECT value FROM detection_marks WHERE key = ?", (key,)
            ).fetchone()
        return orjson.loads(row[0]) if row else None

    def prune_detection_marks(self, before: int) -> int:
        with self._txn() as db:
            return db.execute("DELETE FROM detection_marks WHERE time < ?", (before,)).rowcount

    def watchlist_value(self, key: str) -> dict[str, Any] | None:
        with self._reading():
            row = self._db.execute("SELECT value FROM watchlist WHERE key = ?", (key,)).fetchone()
        return orjson.loads(row[0]) if row else None

    def set_watchlist_value(self, key: str, value: dict[str, Any]) -> None:
        with self._txn() as db:
            db.execute("INSERT OR REPLACE INTO watchlist VALUES (?, ?)", (key, orjson.dumps(value)))

    def open_alerts(self) -> dict[str, dict[str, Any]]:
        with self._reading():
            rows = self._db.execute("SELECT key, value FROM alerts").fetchall()
        alerts = {k: orjson.loads(v) for k, v in rows}
        return {k: v for k, v in alerts.items() if v.get("open")}

    def ping(self) -> None:
        with self._reading():
            self._db.execute("SELECT 1 FROM meta LIMIT 1").fetchall()

    def summary(self) -> list[dict[str, Any]]:
        """Per source and log type: checkpoint, status and seen-set size, for `state show`."""
        with self._reading():
            pairs = self._db.execute(
                "SELECT source_id, log_type FROM checkpoints UNION "
                "SELECT source_id, log_type FROM status UNION "
                "SELECT source_id, log_type FROM writes UNION "
                "SELECT source_id, log_type FROM streams WHERE EXISTS "
                "(SELECT 1 FROM seen_keys WHERE stream = streams.id) "
                "ORDER BY 1, 2"
            ).fetchall()
        return [
            {
                "source_id": s,
                "log_type": lt,
                "checkpoint": self.checkpoint(s, lt),
                "status": self.status(s, lt),
                "seen": self.count_seen(s, lt),
                "pending_writes": len(self.intents(s, lt)),
            }
            for s, lt in pairs
        ]

    def _get(self, table: str, source_id: str, log_type: str) -> dict[str, Any] | None:
        with self._reading():
            row = self._db.execute(
                f"SELECT value FROM {table} WHERE source_id = ? AND log_type = ?",  # noqa: S608
                (source_id, log_type),
            ).fetchone()
        return orjson.loads(row[0]) if row else None

    def _stream(self, source_id: str, log_type: str) -> int:
        """The small integer that stands for a source and log type in `seen_keys`.

        Called outside transactions, so a new stream's row commits on its own and an id
        is never cached from a transaction that later rolls back.
        """
        cached = self._streams.get((source_id, log_type))
        if cached is None:
            self._db.execute(
                "INSERT OR IGNORE INTO streams (source_id, log_type) VALUES (?, ?)",
                (source_id, log_type),
            )
            row = self._db.execute(
                "SELECT id FROM streams WHERE source_id = ? AND log_type = ?",
                (source_id, log_type),
            ).fetchone()
            cached = self._streams[(source_id, log_type)] = int(row[0])
        return cached

    def seen(self, source_id: str, log_type: str, keys: Iterable[bytes]) -> set[bytes]:
        """Which of these keys were already written.

        A page of audit keys spans a short stretch of time, so one range scan between its
        smallest and largest key usually answers for all of them (nothing stored there in a
        backfill, the overlap's keys in steady state). When the range holds many more keys
        than were asked about (access keys carry no time), they are looked up one by one.
        """
        wanted = set(keys)
        if not wanted:
            return set()
        limit = 2 * len(wanted) + 16
        with self._reading():
            stream = self._stream(source_id, log_type)
            rows = self._db.execute(
                "SELECT key FROM seen_keys WHERE stream = ? AND key BETWEEN ? AND ? LIMIT ?",
                (stream, min(wanted), max(wanted), limit),
            ).fetchall()
            if len(rows) < limit:
                return wanted.intersection(r[0] for r in rows)
            found: set[bytes] = set()
            listed = list(wanted)
            for i in range(0, len(listed), self.CHUNK):
                chunk = listed[i : i + self.CHUNK]
                marks = ",".join("?" * len(chunk))
                found.update(
                    r[0]
                    for r in self._db.execute(
                        f"SELECT key FROM seen_keys WHERE stream = ? AND key IN ({marks})",  # noqa: S608
                        (stream, *chunk),
                    )
                )
        return found

    def count_seen(self, source_id: str, log_type: str) -> int:
        with self._reading():
            row = self._db.execute(
                "SELECT count(*) FROM seen_keys JOIN streams ON streams.id = stream "
                "WHERE source_id = ? AND log_type = ?",
                (source_id, log_type),
            ).fetchone()
        return int(row[0])

    def begin_write(
        self, source_id: str, log_type: str, objects: dict[str, tuple[int, Keys]]
    ) -> None:
        """Record what is about to be written (key, size, row keys), before it is written."""
        now = clock.now_ts()
        with self._txn() as db:
            db.executemany(
                "INSERT OR REPLACE INTO writes VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (source_id, log_type, key, size, joined(rows), now)
                    for key, (size, rows) in objects.items()
                ],
            )

    def intents(self, source_id: str, log_type: str) -> list[Intent]:
        with self._reading():
            rows = self._db.execute(
                "SELECT object_key, size, row_keys FROM writes "
                "WHERE source_id = ? AND log_type = ?",
                (source_id, log_type),
            ).fetchall()
        return [Intent(key, split(blob), size) for key, size, blob in rows]

    def commit(
        self,
        source_id: str,
        log_type: str,
        *,
        keys: Keys = (),
        checkpoint: dict[str, Any] | None = None,
        checkpoint_key: str | None = None,
        done_intents: Iterable[str] = (),
        prune_before: int | None = None,
    ) -> None:
        """Keys, checkpoint and intent cleanup in one transaction: all of it or none."""
        with self._reading():
            stream = self._stream(source_id, log_type)
        with self._txn() as db:
            db.execute(INSERT_PACKED, (joined(keys), stream, KEY_SIZE))
            db.executemany(
                "DELETE FROM writes WHERE source_id = ? AND log_type = ? AND object_key = ?",
                [(source_id, log_type, k) for k in done_intents],
            )
            if checkpoint is not None:
                db.execute(
                    "INSERT OR REPLACE INTO checkpoints VALUES (?, ?, ?, ?)",
                    (
                        source_id,
                        checkpoint_key or log_type,
                        orjson.dumps(checkpoint),
                        clock.now_ts(),
                    ),
                )
            bound = forget_before(prune_before) if prune_before is not None else None
            if bound is not None:
                db.execute("DELETE FROM seen_keys WHERE stream = ? AND key >= ?", (stream, bound))

    def claim(
        self,
        streams: list[tuple[str, str]],
        *,
        everything: bool = False,
        on_taken: Callable[[tuple[str, str]], None] | None = None,
        on_round: Callable[[float], None] | None = None,
    ) -> None:
        return None

    @contextmanager
    def polling(self, source_id: str, log_type: str) -> Iterator[bool]:
        yield True

    def add_streams(self, streams: list[tuple[str, str]]) -> None:
        return None

    def owns(self, source_id: str, log_type: str) -> bool:
        return True

    def lease_lost(self, source_id: str, log_type: str) -> LeaseLost:
        return LeaseLost(f"source {source_id!r} log type {log_type!r}: no leases in SQLite")

    def leases_held(self) -> int:
        return 0

    def reset(self, source_id: str, log_type: str | None = None) -> bool:
        """Forget a source (or one of its log types); True when there was anything to forget.

        Matched exactly: `acme_eu` never touches `acme-eu` (in LIKE, `_` is a wildcard).
        """
        prefix = f"{source_id}:{log_type}:" if log_type else f"{source_id}:"
        where, args = "source_id = ?", [source_id]
        if log_type is not None:
            where, args = "source_id = ? AND log_type = ?", [source_id, log_type]
        with self._txn() as db:
            before = db.total_changes
            db.execute("DELETE FROM alerts WHERE substr(key, 1, length(?1)) = ?1", (prefix,))
            db.execute(
                f"DELETE FROM seen_keys WHERE stream IN (SELECT id FROM streams WHERE {where})",  # noqa: S608
                args,
            )
            for table in ("checkpoints", "writes", "status"):
                db.execute(f"DELETE FROM {table} WHERE {where}", args)  # noqa: S608
            return db.total_changes > before


INSERT_PACKED = """
WITH RECURSIVE at(i) AS (SELECT 1 UNION ALL SELECT i + ?3 FROM at WHERE i + ?3 <= length(?1))
INSERT OR IGNORE INTO seen_keys SELECT ?2, substr(?1, i, ?3) FROM at WHERE length(?1) > 0
"""
"""Keys go in as one packed blob that SQLite splits: binding 10,000 rows from Python costs
twice the insert itself."""


__all__ = ["INSERT_PACKED", "VERSION", "Intent", "Keys", "StateError", "StateStore"]
