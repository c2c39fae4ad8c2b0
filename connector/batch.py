"""Gzip NDJSON objects with deterministic keys, partitioned by event hour.

A key is a function of what the object holds (source, folder, hour and the sorted
dedupe keys of its rows), and zlib's gzip header carries no timestamp, so writing the
same batch again after a crash overwrites the same object instead of adding a copy.
"""

from __future__ import annotations

import functools
import hashlib
import zlib
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

QUARANTINE = "_quarantine"
PENDING_LINES = 500


@dataclass
class Obj:
    key: str
    body: bytes
    row_keys: list[bytes]


_COMPRESSOR = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gzip")
"""zlib releases the GIL: compressing on this thread overlaps with parsing and validating
the next records on the other core. One worker, so each object's chunks stay in order."""


@dataclass
class _Group:
    """One future object. Lines are compressed as they arrive, so a batch holds ~120
    bytes per event instead of the JSON, and memory stays flat however large a page is."""

    zip: Any = field(default_factory=lambda: zlib.compressobj(6, zlib.DEFLATED, 31))
    chunks: list[Future[bytes]] = field(default_factory=list)
    pending: list[bytes] = field(default_factory=list)
    row_keys: list[bytes] = field(default_factory=list)
    first_ts: float = float("inf")

    def squeeze(self) -> None:
        """Compress what is pending in one call: zlib per line costs twice as much."""
        if self.pending:
            self.pending.append(b"")
            self.chunks.append(_COMPRESSOR.submit(self.zip.compress, b"\n".join(self.pending)))
            self.pending.clear()

    def finish(self) -> bytes:
        self.squeeze()
        parts = [f.result() for f in self.chunks]
        tail: bytes = self.zip.flush()
        return b"".join([*parts, tail])


class Batch:
    """Rows of one source and log type waiting to be written, grouped per folder and hour."""

    def __init__(self, prefix: str, source_id: str, max_events: int, max_bytes: int) -> None:
        self.prefix = prefix
        self.source_id = source_id
        self.max_events = max_events
        self.max_bytes = max_bytes
        self._groups: dict[tuple[str, int], _Group] = {}
        self.keys: set[bytes] = set()
        """Dedupe keys of the rows added so far; read only."""
        self.events = 0
        self.bytes = 0

    @property
    def full(self) -> bool:
        return self.events >= self.max_events or self.bytes >= self.max_bytes

    def add(self, folder: str, row: dict[str, Any] | bytes, key: bytes, event_ts: float) -> None:
        """`row` is an encoded JSON line (without newline) or a dict to encode."""
        line = row if isinstance(row, bytes) else orjson.dumps(row)
        where = (folder, int(event_ts) // 3600)
        group = self._groups.get(where)
        if group is None:
            group = self._groups[where] = _Group()
        group.pending.append(line)
        if len(group.pending) >= PENDING_LINES:
            group.squeeze()
        group.row_keys.append(key)
        if event_ts < group.first_ts:
            group.first_ts = event_ts
        self.keys.add(key)
        self.events += 1
        self.bytes += len(line) + 1

    def objects(self) -> list[Obj]:
        """Each group's gzip object; call once, it finishes the compressors."""
        out = []
        for (folder, hour), group in sorted(self._groups.items()):
            digest = hashlib.sha256(b"".join(sorted(group.row_keys))).hexdigest()[:24]
            stamp = datetime.fromtimestamp(group.first_ts, UTC).strftime("%Y%m%dT%H%M%SZ")
            name = f"{self.source_id}_{stamp}_{digest}.json.gz"
            key = "/".join(p for p in (self.prefix, folder, _partition(hour), name) if p)
            body = group.finish()
            out.append(Obj(key, body, group.row_keys))
        return out


@functools.lru_cache(maxsize=1024)
def _partition(hour: int) -> str:
    return datetime.fromtimestamp(hour * 3600, UTC).strftime("year=%Y/month=%m/day=%d/hour=%H")
