"""A local directory with the same layout as S3: the embedded default and the demo target."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from connector.config import OutputConfig
from connector.sinks.base import Sink, SinkError, register


@register
class LocalSink(Sink):
    kind = "local"

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    @classmethod
    def from_config(cls, cfg: OutputConfig) -> Sink:
        return cls(cfg.path)

    def put(self, key: str, body: bytes) -> None:
        """Write to a temp file, fsync, rename, fsync the directory: whole or absent."""
        target = self.root / key
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(body)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            dir_fd = os.open(target.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        except OSError as exc:
            raise SinkError(f"local: cannot write {key}: {exc.strerror}") from None

    def exists(self, key: str, size: int | None = None) -> bool:
        path = self.root / key
        return path.is_file() and (size is None or path.stat().st_size == size)

    def check(self) -> str:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SinkError(f"local: cannot create {self.root}: {exc.strerror}") from None
        if not os.access(self.root, os.W_OK):
            raise SinkError(f"local: {self.root} is not writable")
        return f"ok, writing under {self.root}"
