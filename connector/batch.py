"""Gzip NDJSON objects with deterministic keys, partitioned by event hour.

A key is a function of what the object holds (source, folder, hour and the sorted row
ids), and gzip's header timestamp is pinned, so writing the same batch again after a crash
overwrites the same object instead of adding a copy.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

QUARANTINE = "_quarantine"


@dataclass
class Obj:
    key: str
    body: bytes
    row_keys: list[tuple[str, int]]


@dataclass
class _Group:
    lines: list[bytes] = field(default_factory=list)
    row_keys: list[tuple[str, int]] = field(default_factory=list)
    first_ts: float = float("inf")
    size: int = 0


class Batch:
    """Rows of one source and log type waiting to be written, grouped per folder and hour."""

    def __init__(self, prefix: str, source_id: str, max_events: int, max_bytes: int) -> None:
        self.prefix = prefix
        self.source_id = source_id
        self.max_events = max_events
        self.max_bytes = max_bytes
        self._groups: dict[tuple[str, str], _Group] = {}
        self._ids: set[str] = set()
        self.events = 0
        self.bytes = 0

    def __contains__(self, rid: str) -> bool:
        return rid in self._ids

    @property
    def full(self) -> bool:
        return self.events >= self.max_events or self.bytes >= self.max_bytes

    def add(self, folder: str, row: dict[str, Any], rid: str, event_ts: float) -> None:
        hour = _partition(int(event_ts) // 3600)
        line = orjson.dumps(row)
        group = self._groups.setdefault((folder, hour), _Group())
        group.lines.append(line)
        group.row_keys.append((rid, int(event_ts)))
        group.first_ts = min(group.first_ts, event_ts)
        group.size += len(line) + 1
        self._ids.add(rid)
        self.events += 1
        self.bytes += len(line) + 1

    def objects(self) -> list[Obj]:
        out = []
        for (folder, hour), group in sorted(self._groups.items()):
            digest = hashlib.sha256(
                "\n".join(sorted(rid for rid, _ in group.row_keys)).encode()
            ).hexdigest()[:24]
            stamp = datetime.fromtimestamp(group.first_ts, UTC).strftime("%Y%m%dT%H%M%SZ")
            name = f"{self.source_id}_{stamp}_{digest}.json.gz"
            key = "/".join(p for p in (self.prefix, folder, hour, name) if p)
            body = gzip.compress(b"\n".join(group.lines) + b"\n", compresslevel=6, mtime=0)
            out.append(Obj(key, body, group.row_keys))
        return out


@functools.lru_cache(maxsize=1024)
def _partition(hour: int) -> str:
    return datetime.fromtimestamp(hour * 3600, UTC).strftime("year=%Y/month=%m/day=%d/hour=%H")
