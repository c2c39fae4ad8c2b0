"""NDJSON on standard output, for piping into another tool or watching the demo.

Standard output cannot be asked what it already holds, so after a crash the last batch
may be printed again (at least once); use `local` or `s3` for exactly once.
"""

from __future__ import annotations

import gzip
import sys
import threading
from collections.abc import Callable
from typing import BinaryIO

from connector.config.settings import OutputConfig
from connector.sinks.base import Sink, SinkError, register


@register
class StdoutSink(Sink):
    kind = "stdout"

    def __init__(self, stream: BinaryIO | None = None) -> None:
        self._stream = stream or sys.stdout.buffer
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, cfg: OutputConfig) -> Sink:
        return cls()

    def put(self, key: str, body: bytes, check_lease: Callable[[], None] | None = None) -> None:
        with self._lock:
            self._stream.write(gzip.decompress(body))
            self._stream.flush()

    def exists(self, key: str, size: int | None = None) -> bool:
        return False

    def get(self, key: str) -> bytes:
        """Never called: nothing printed `exists`, so recovery reads nothing back."""
        raise SinkError(f"stdout: cannot read {key} back")
