"""Where one source's token pair lives: the `TokenStorage` protocol and `TokenFile`.

A refreshed refresh token is the only way back in, so `TokenFile.save` writes atomically
(tmp file, fsync, rename, fsync dir; mode 0600): a reader or a restart sees the old pair or
the new, whole. `connector.state.tokens` implements the same protocol on the shared table.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import orjson

from connector import clock, fsutil
from connector.slack.tokenset import TokenSet

log = logging.getLogger(__name__)

FILE_VERSION = 1


class TokenFileError(Exception):
    """The token file cannot be read or written. Names the path, never the contents."""


def default_token_path(state_path: str | os.PathLike[str], source_id: str) -> Path:
    """`<dir of the state DB>/tokens/<source_id>.json`."""
    return Path(state_path).resolve().parent / "tokens" / f"{source_id}.json"


class TokenStorage(Protocol):
    """Where one source's TokenSet lives: a file (`TokenFile`) or, with replicas, a shared
    store. `locked()` is held around a refresh across every process that shares it, so a
    single-use refresh token is spent once; `stamp()` changes whenever the pair does."""

    path: Any

    def stamp(self) -> Any: ...

    def load(self) -> TokenSet | None: ...

    def save(self, token_set: TokenSet) -> None: ...

    def locked(self) -> contextlib.AbstractContextManager[None]: ...


class TokenFile:
    """One source's TokenSet as JSON at `path`: atomic writes, mode 0600, dir 0700."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"TokenFile({str(self.path)!r})"

    def stamp(self) -> tuple[int, int, int] | None:
        """(inode, mtime_ns, size), or None when absent: cheap change detection."""
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise TokenFileError(f"cannot stat {self.path} ({exc.strerror})") from None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def load(self) -> TokenSet | None:
        """The saved TokenSet, None when there is no file; TokenFileError when unreadable."""
        try:
            raw = self.path.read_bytes()
            mode = self.path.stat().st_mode
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise TokenFileError(f"cannot read {self.path} ({exc.strerror})") from None
        if mode & 0o077:
            log.warning(
                "token file is readable by group or others; chmod 600 it",
                extra={"path": str(self.path)},
            )
        try:
            doc = orjson.loads(raw)
            if not isinstance(doc, dict) or not isinstance(doc.get("token"), dict):
                raise ValueError("no token object")
            if doc.get("version") != FILE_VERSION:
                raise ValueError(f"unsupported version {doc.get('version')!r}")
            return TokenSet.from_dict(doc["token"])
        except ValueError as exc:  # orjson.JSONDecodeError is a ValueError
            reason = str(exc) if not isinstance(exc, orjson.JSONDecodeError) else "not JSON"
            raise TokenFileError(f"{self.path} is corrupt ({reason})") from None

    def save(self, token_set: TokenSet) -> None:
        """Write atomically: a reader (or a restart) sees the old pair or the new, whole."""
        doc = {"version": FILE_VERSION, "saved_at": clock.now_ts(), "token": token_set.to_dict()}
        data = orjson.dumps(doc, option=orjson.OPT_INDENT_2)
        try:
            fsutil.atomic_write(self.path, data, mode=0o600, private=True)
        except OSError as exc:
            raise TokenFileError(f"cannot write {self.path} ({exc.strerror})") from None

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Exclusive lock on `<path>.lock` across processes, held around a refresh."""
        lock_path = self.path.with_name(self.path.name + ".lock")
        try:
            fsutil.private_dir(lock_path.parent)
            fd = fsutil.lock_file(lock_path, wait=True)
        except OSError as exc:
            raise TokenFileError(f"cannot open {lock_path} ({exc.strerror})") from None
        try:
            yield
        finally:
            fsutil.unlock_file(fd)


__all__ = [
    "FILE_VERSION",
    "TokenFile",
    "TokenFileError",
    "TokenStorage",
    "default_token_path",
]
