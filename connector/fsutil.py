"""File-system helpers shared by the state store, the token file and the local sink:
private directories, atomic writes and cross-process locks, each done one way.

The state file, token files and their locks hold secrets or decide who writes, so what
they create is private (0700 directories, 0600 files) whatever the process umask.
"""

from __future__ import annotations

import fcntl
import os
import secrets
from pathlib import Path


def private_dir(path: Path) -> None:
    """Create `path` and every missing parent with mode 0700; existing ones are left alone."""
    missing = []
    for folder in (path, *path.parents):
        if folder.is_dir():
            break
        missing.append(folder)
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=0o700)
        except FileExistsError:
            continue
        os.chmod(folder, 0o700)


def private_file(path: Path) -> None:
    """Create an empty file with mode 0600 unless it exists."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    try:
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes, *, mode: int = 0o600, private: bool = False) -> None:
    """Temp file, fsync, rename, fsync the directory: a reader sees the old file or the
    new one, whole, even across a power cut. Raises OSError; the temp file never stays."""
    directory = path.parent
    if private:
        private_dir(directory)
    else:
        directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        try:
            os.fchmod(fd, mode)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def lock_file(path: Path, *, wait: bool) -> int:
    """An exclusive `flock` on `path` (created 0600); returns the fd that holds it.

    Without `wait`, a lock another process holds raises BlockingIOError at once.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BaseException:
        os.close(fd)
        raise
    return fd


def unlock_file(fd: int) -> None:
    fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)
