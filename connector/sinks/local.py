"""A local directory with the same layout as S3: the embedded default and the demo target."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from connector import fsutil
from connector.config.settings import OutputConfig
from connector.sinks.base import Sink, SinkError, register


@register
class LocalSink(Sink):
    kind = "local"

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    @classmethod
    def from_config(cls, cfg: OutputConfig) -> Sink:
        return cls(cfg.path)

    def put(self, key: str, body: bytes, check_lease: Callable[[], None] | None = None) -> None:
        """Write to a temp file, fsync, rename, fsync the directory: whole or absent."""
        try:
            fsutil.atomic_write(self.root / key, body, mode=0o600)
        except OSError as exc:
            raise SinkError(f"local: cannot write {key}: {exc.strerror}") from None

    def exists(self, key: str, size: int | None = None) -> bool:
        path = self.root / key
        return path.is_file() and (size is None or path.stat().st_size == size)

    def get(self, key: str) -> bytes:
        try:
            return (self.root / key).read_bytes()
        except OSError as exc:
            raise SinkError(f"local: cannot read {key}: {exc.strerror}") from None

    def delete(self, key: str) -> None:
        try:
            (self.root / key).unlink(missing_ok=True)
        except OSError as exc:
            raise SinkError(f"local: cannot delete {key}: {exc.strerror}") from None

    def check(self) -> str:
        """Whether writes can succeed, without creating anything: `check` and the readiness
        probe must not leave directories behind."""
        existing = next(p for p in (self.root, *self.root.absolute().parents) if p.exists())
        if not existing.is_dir():
            raise SinkError(f"local: {existing} is not a directory")
        if not os.access(existing, os.W_OK | os.X_OK):
            raise SinkError(f"local: {existing} is not writable")
        if existing == self.root:
            return f"ok, writing under {self.root}"
        return f"ok, {self.root} will be created in {existing}"
