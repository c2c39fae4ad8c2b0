"""SQLite state store, the embedded default.

One file holds checkpoints, the keys of events already written (the dedupe set), the
intents of writes in flight, and per-source status. Every commit is one transaction, so
a checkpoint and the dedupe keys of the batch it covers move together or not at all.
WAL with `synchronous=FULL`: a commit that returned survives a power cut.

Write intents close the gap between "object written" and "state committed": before a
batch is written its object keys and row keys are committed as an intent; after a crash
the intent is resolved by asking the sink which objects exist, and only those objects'
keys become seen. A batch is then never lost and never written twice under two names.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from connector import clock

SCHEMA = """
CREATE TABLE IF NOT EXISTS checkpoints (
    source_id TEXT NOT NULL, log_type TEXT NOT NULL, value BLOB NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (source_id, log_type)
);
CREATE TABLE IF NOT EXISTS seen (
    source_id TEXT NOT NULL, log_type TEXT NOT NULL, key TEXT NOT NULL, event_ts INTEGER NOT NULL,
    PRIMARY KEY (source_id, log_type, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS intents (
    source_id TEXT NOT NULL, log_type TEXT NOT NULL, object_key TEXT NOT NULL,
    row_keys BLOB NOT NULL, created_at INTEGER NOT NULL,
    PRIMARY KEY (source_id, log_type, object_key)
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS alerts (key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS status (
    source_id TEXT NOT NULL, log_type TEXT NOT NULL, value BLOB NOT NULL,
    PRIMARY KEY (source_id, log_type)
);
"""

Keys = Sequence[tuple[str, int]]


@dataclass(frozen=True)
class Intent:
    object_key: str
    row_keys: list[tuple[str, int]]
    size: int | None = None


class StateError(Exception):
    """The state store cannot be used as it is: locked, read-only, full, or corrupt.

    Never answered by starting over: a fresh state would re-land or skip data, so the
    operator is told and the affected polls fail until it is fixed.
    """


class StateStore:
    """Thread-safe: APScheduler runs one job per source and log type on a thread pool.

    One process per state file: an exclusive lock on `<path>.lock` keeps a second daemon
    (or a `once` next to a running daemon) from writing the same batches twice.
    """

    CHUNK = 500

    def __init__(self, path: str | Path, *, timeout: float = 10.0) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        self._lockfile: int | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._lockfile = _exclusive_lock(self.path)
            self._db = sqlite3.connect(
                str(self.path), check_same_thread=False, isolation_level=None, timeout=timeout
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            if self._db.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                raise sqlite3.DatabaseError("integrity check failed")
            self._db.executescript(SCHEMA)
            self._db.execute(
                "INSERT OR REPLACE INTO meta VALUES ('opened_at', ?)", (str(clock.now_ts()),)
            )
        except (sqlite3.Error, OSError) as exc:
            self._release()
            raise StateError(f"state {self.path}: {_reason(exc)}") from None

    def close(self) -> None:
        with self._lock:
            if hasattr(self, "_db"):
                self._db.close()
            self._release()

    def _release(self) -> None:
        if self._lockfile is not None:
            os.close(self._lockfile)
            self._lockfile = None

    @contextmanager
    def _txn(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                raise StateError(f"state {self.path}: {_reason(exc)}") from None

    @contextmanager
    def _reading(self) -> Iterator[None]:
        with self._lock:
            try:
                yield
            except sqlite3.Error as exc:
                raise StateError(f"state {self.path}: {_reason(exc)}") from None

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
                "SELECT source_id, log_type FROM seen GROUP BY source_id, log_type "
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

    def seen(self, source_id: str, log_type: str, keys: Iterable[str]) -> set[str]:
        """Which of these keys were already written."""
        wanted = list(keys)
        found: set[str] = set()
        with self._reading():
            for i in range(0, len(wanted), self.CHUNK):
                chunk = wanted[i : i + self.CHUNK]
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    "SELECT key FROM seen WHERE source_id = ? AND log_type = ? "  # noqa: S608
                    f"AND key IN ({marks})",
                    (source_id, log_type, *chunk),
                )
                found.update(r[0] for r in rows)
        return found

    def count_seen(self, source_id: str, log_type: str) -> int:
        with self._reading():
            row = self._db.execute(
                "SELECT count(*) FROM seen WHERE source_id = ? AND log_type = ?",
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
                "INSERT OR REPLACE INTO intents VALUES (?, ?, ?, ?, ?)",
                [
                    (
                        source_id,
                        log_type,
                        key,
                        orjson.dumps({"size": size, "keys": list(rows)}),
                        now,
                    )
                    for key, (size, rows) in objects.items()
                ],
            )

    def intents(self, source_id: str, log_type: str) -> list[Intent]:
        with self._reading():
            rows = self._db.execute(
                "SELECT object_key, row_keys FROM intents WHERE source_id = ? AND log_type = ?",
                (source_id, log_type),
            ).fetchall()
        out = []
        for key, blob in rows:
            value = orjson.loads(blob)
            size, keys = (
                (value.get("size"), value["keys"]) if isinstance(value, dict) else (None, value)
            )
            out.append(Intent(key, [(str(a), int(b)) for a, b in keys], size))
        return out

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
        with self._txn() as db:
            db.executemany(
                "INSERT OR IGNORE INTO seen VALUES (?, ?, ?, ?)",
                [(source_id, log_type, k, ts) for k, ts in keys],
            )
            db.executemany(
                "DELETE FROM intents WHERE source_id = ? AND log_type = ? AND object_key = ?",
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
            if prune_before is not None:
                db.execute(
                    "DELETE FROM seen WHERE source_id = ? AND log_type = ? AND event_ts < ?",
                    (source_id, log_type, prune_before),
                )

    def reset(self, source_id: str, log_type: str | None = None) -> None:
        with self._txn() as db:
            db.execute("DELETE FROM alerts WHERE key LIKE ?", (f"{source_id}:{log_type or '%'}:%",))
            for table in ("checkpoints", "seen", "intents", "status"):
                if log_type is None:
                    db.execute(f"DELETE FROM {table} WHERE source_id = ?", (source_id,))  # noqa: S608
                else:
                    db.execute(
                        f"DELETE FROM {table} WHERE source_id = ? AND log_type = ?",  # noqa: S608
                        (source_id, log_type),
                    )


def _exclusive_lock(path: Path) -> int:
    fd = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise OSError(0, "in use by another slack-connector process") from None
    return fd


def _reason(exc: BaseException) -> str:
    text = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    hints = {
        "locked": "locked by another process",
        "readonly": "read-only; the connector needs to write its state",
        "full": "disk full; free space, nothing was committed",
        "not a database": "corrupt (not a database); restore it from a backup",
        "malformed": "corrupt; restore it from a backup",
        "integrity": "corrupt; restore it from a backup",
    }
    for needle, hint in hints.items():
        if needle in text.lower().replace("-", "").replace(" only", "only"):
            return f"{text} ({hint})"
    return text
