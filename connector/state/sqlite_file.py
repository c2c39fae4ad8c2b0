"""Opening the SQLite state file, and saying in an operator's words why it cannot be.

Kept apart from the store's queries because it is about the file, not its contents: the
exclusive lock that keeps a second process off it, the durability pragmas, the integrity
check and schema upgrade before first use, the read-only connection that opens beside a
live daemon, and the hint each SQLite or OS error gets in `StateError` messages.
"""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path

from connector import clock, fsutil
from connector.state.sqlite_schema import SCHEMA, migrate


def open_writable(path: Path, timeout: float) -> sqlite3.Connection:
    """The store's own connection: WAL with `synchronous=FULL`, checked, on `VERSION`.

    The caller holds the exclusive lock (`exclusive_lock`) before calling this.
    """
    # SQLite gives the WAL and shared-memory files the database file's mode.
    fsutil.private_file(path)
    db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=timeout)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    if db.execute("PRAGMA quick_check").fetchone()[0] != "ok":
        raise sqlite3.DatabaseError("integrity check failed")
    db.executescript(SCHEMA)
    migrate(db)
    db.execute("INSERT OR REPLACE INTO meta VALUES ('opened_at', ?)", (str(clock.now_ts()),))
    return db


def open_read_only(path: Path, timeout: float) -> sqlite3.Connection:
    """A connection that cannot write, and never creates the file: a missing state file
    is an error the caller reports ("nothing polled yet"), not an empty database."""
    if not path.is_file():
        raise FileNotFoundError(errno.ENOENT, "no state file yet (nothing has been polled)")
    uri = f"{path.resolve().as_uri()}?mode=ro"
    db = sqlite3.connect(
        uri, uri=True, check_same_thread=False, isolation_level=None, timeout=timeout
    )
    db.execute("PRAGMA query_only=ON")
    return db


def exclusive_lock(path: Path) -> int:
    try:
        return fsutil.lock_file(Path(f"{path}.lock"), wait=False)
    except BlockingIOError:
        raise OSError(0, "in use by another slack-connector process") from None


def reason(exc: BaseException) -> str:
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
