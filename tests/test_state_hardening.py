"""SQLite state store hardening: a failed COMMIT is rolled back, resets match exactly, files
are private whatever the umask, and read-only opens work beside a running daemon."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from connector.state.sqlite import StateError, StateStore


def _fail_commits_for(store: StateStore, source_id: str) -> None:
    """A deferred foreign key that the status row of `source_id` violates: SQLite refuses
    the COMMIT and leaves the transaction open, as it does after some I/O errors."""
    db = store._db
    db.execute("PRAGMA foreign_keys=ON")
    db.executescript(
        f"""
        CREATE TABLE parent (id TEXT PRIMARY KEY);
        CREATE TABLE child (p TEXT REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED);
        CREATE TRIGGER fail_commit AFTER INSERT ON status WHEN new.source_id = '{source_id}'
        BEGIN INSERT INTO child VALUES ('missing'); END;
        """
    )


def test_a_failed_commit_is_rolled_back_and_the_next_transaction_works(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.db")
    try:
        _fail_commits_for(store, "broken")
        with pytest.raises(StateError, match="FOREIGN KEY"):
            store.set_status("broken", "audit", {"state": "ok"})
        store.set_status("acme", "audit", {"state": "ok"})
        assert store.status("acme", "audit") == {"state": "ok"}
        assert store.status("broken", "audit") is None
    finally:
        store.close()


def test_reset_matches_the_source_id_exactly(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.db")
    try:
        for sid in ("acme_eu", "acme-eu", "acmeXeu"):
            store.set_status(sid, "audit", {"state": "ok"})
            store.commit(sid, "audit", keys=[b"k" * 16], checkpoint={"oldest": 1})
            store.set_alert(f"{sid}:audit:no_events", {"open": True})
        assert store.reset("acme_eu") is True
        assert store.status("acme_eu", "audit") is None
        for other in ("acme-eu", "acmeXeu"):
            assert store.status(other, "audit") == {"state": "ok"}
            assert store.checkpoint(other, "audit") == {"oldest": 1}
            assert store.count_seen(other, "audit") == 1
            assert store.alert(f"{other}:audit:no_events") == {"open": True}
        assert store.reset("acme_eu") is False
        assert store.reset("nosuch", "audit") is False
    finally:
        store.close()


def test_state_files_and_directory_are_private_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        path = tmp_path / "state" / "deeper" / "state.db"
        store = StateStore(path)
        store.set_status("acme", "audit", {"state": "ok"})
        try:
            for made in (path, Path(f"{path}-wal"), Path(f"{path}.lock")):
                assert stat.S_IMODE(made.stat().st_mode) == 0o600, made
            for folder in (path.parent, path.parent.parent):
                assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
        finally:
            store.close()
    finally:
        os.umask(old)


def test_read_only_open_works_while_the_daemon_holds_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    daemon = StateStore(path)
    try:
        daemon.set_status("acme", "audit", {"state": "ok"})
        with pytest.raises(StateError, match="in use"):
            StateStore(path)
        reader = StateStore(path, read_only=True)
        try:
            assert reader.status("acme", "audit") == {"state": "ok"}
            assert [r["source_id"] for r in reader.summary()] == ["acme"]
            with pytest.raises(StateError):
                reader.set_status("acme", "audit", {"state": "parked"})
        finally:
            reader.close()
        daemon.set_status("acme", "access", {"state": "ok"})
    finally:
        daemon.close()


def test_read_only_open_of_a_missing_file_creates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "state.db"
    with pytest.raises(StateError, match="no state file yet"):
        StateStore(path, read_only=True)
    assert not path.parent.exists()
