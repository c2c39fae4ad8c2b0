"""Rows held until a write, spilled to local disk, then gzip NDJSON objects per partition.

Rows are grouped per folder and partition (an event hour or day, see `partition.py`) and
each group becomes one object, so a poll writes one object per partition however Slack
orders its rows. Lines are copied into one byte buffer per batch that spills to an
unlinked temporary file past `SPILL_AT`: a batch costs a few bytes of index per row in
memory, not one compressor per partition, and can hold a whole first poll of long history.

The buffer is one `bytearray`, not a list of the lines: orjson 3.13 returns each line in
an allocation of about 8 KB whatever its length, so 1 MB of ~900-byte audit lines kept as
`bytes` objects held 9 MB; 50 sources with long backlogs held 123 MB of lines in batches
(issue 19, docs/benchmarks.md). Copied, a line's allocation is freed as soon as it is
added, and `SPILL_AT` bounds what a batch holds in memory.

A key is a function of what the object holds (source, folder, partition and the sorted
dedupe keys of its rows), and the gzip header carries no timestamp, so writing the same
rows again after a crash overwrites the same object instead of adding a copy.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any

import orjson
from isal import isal_zlib

from connector.ingest.partition import HOUR, Granularity

QUARANTINE = "_quarantine"
SPILL_AT = 1 << 20
"""Buffered bytes per batch before they go to the spill file: small enough that many
sources polling at once hold little, large enough that a write is one cheap syscall."""
GZIP_LEVEL = 2
"""isal (ISA-L) at level 2 compresses audit NDJSON ten times faster than zlib at 6
(1,115 against 108 MB/s) into 14.3 % instead of 11.8 % of the input: standard gzip,
readable by every reader, with no timestamp in the header."""
READ_CHUNK = 4 << 20
Reader = Callable[[int, int], Iterator[bytes | memoryview]]


@dataclass
class Obj:
    key: str
    body: bytes
    row_keys: list[bytes]
    ndjson: bytes | None = None
    """The uncompressed rows, when `objects(ndjson=True)` asked for them (derived outputs)."""


@dataclass
class _Group:
    """One future object: where its lines are in the spill stream, and their dedupe keys."""

    folder: str
    bucket: int
    granularity: Granularity
    runs: array[int] = field(default_factory=lambda: array("q"))
    """(start, end) of each run of its lines in the line stream, flat: 16 bytes a run where
    a list of two-int lists cost ~140, and rows of interleaved partitions are one run each."""
    row_keys: list[bytes] = field(default_factory=list)
    first_ts: float = float("inf")
    size: int = 0


@dataclass(frozen=True)
class Sizing:
    """How big an object may get, and how much a batch may hold before it must be written.

    A batch with a checkpoint waiting is written once it holds `commit_objects` objects'
    worth of rows (`max_events` each) or `max_bytes`, so the checkpoint keeps moving;
    without one (a first poll of access or integration history, where only the last page
    moves the checkpoint) it keeps collecting until `hold_events` or `hold_bytes`, so the
    rows of a partition end in one object instead of one per batch. A first run walking
    months of access rows sorted by `date_first` touches every daily partition on every
    page: it commits every 100,000 rows by default, so it resumes after a crash and lands
    one object per partition for each 100,000 rows (150,000 rows: at most 2 a day, where a
    commit every 10,000 made 735 objects of 204 rows). Objects never exceed `max_events`.
    """

    max_events: int = 10_000
    max_bytes: int = 64 * 1024 * 1024
    hold_events: int = 1_000_000
    hold_bytes: int = 1024 * 1024 * 1024
    spill_dir: str | None = None
    commit_objects: int = 10


class Batch:
    """Rows of one source and log type waiting to be written."""

    def __init__(
        self,
        prefix: str,
        source_id: str,
        sizing: Sizing | None = None,
        granularity: dict[str, Granularity] | None = None,
    ) -> None:
        self.prefix = prefix
        self.source_id = source_id
        self.sizing = sizing or Sizing()
        self._granularity = granularity or {}
        self._open: dict[tuple[str, int], _Group] = {}
        self._sealed: list[_Group] = []
        self._buffer = bytearray()
        self._offset = 0
        self._spill: IO[bytes] | None = None
        self.keys: set[bytes] = set()
        """Dedupe keys of the rows added so far; read only."""
        self.events = 0
        self.bytes = 0

    def due(self, checkpoint_waiting: bool) -> bool:
        """Whether to write now (see `Sizing`)."""
        s = self.sizing
        if self.events >= s.hold_events or self.bytes >= s.hold_bytes:
            return True
        return checkpoint_waiting and (
            self.events >= s.commit_objects * s.max_events or self.bytes >= s.max_bytes
        )

    def add(self, folder: str, row: dict[str, Any] | bytes, key: bytes, event_ts: float) -> None:
        """`row` is an encoded JSON line (without newline) or a dict to encode."""
        line = row if isinstance(row, bytes) else orjson.dumps(row)
        size = len(line) + 1
        granularity = self._granularity.get(folder, HOUR)
        where = (folder, int(event_ts) // granularity.seconds)
        group = self._open.get(where)
        if group is None or (
            len(group.row_keys) >= self.sizing.max_events
            or group.size + size > self.sizing.max_bytes
        ):
            if group is not None:
                self._sealed.append(group)
            group = self._open[where] = _Group(folder, where[1], granularity)
        start = self._offset
        runs = group.runs
        if runs and runs[-1] == start:
            runs[-1] = start + size
        else:
            runs.append(start)
            runs.append(start + size)
        self._offset = start + size
        buffer = self._buffer
        buffer += line
        buffer += b"\n"
        if len(buffer) >= SPILL_AT:
            self._spill_buffer()
        group.row_keys.append(key)
        group.size += size
        if event_ts < group.first_ts:
            group.first_ts = event_ts
        self.keys.add(key)
        self.events += 1
        self.bytes += size

    def objects(self, ndjson: bool = False) -> Iterator[Obj]:
        """Each group's gzip object, compressed one at a time as the caller asks for it;
        with `ndjson`, its uncompressed rows beside it (one object's worth held at a time)."""
        groups = sorted([*self._sealed, *self._open.values()], key=lambda g: (g.folder, g.bucket))
        read = self._reader()
        try:
            for group in groups:
                digest = hashlib.sha256(b"".join(sorted(group.row_keys))).hexdigest()[:24]
                stamp = datetime.fromtimestamp(group.first_ts, UTC).strftime("%Y%m%dT%H%M%SZ")
                name = f"{self.source_id}_{stamp}_{digest}.json.gz"
                where = group.granularity.path(group.bucket)
                key = "/".join(p for p in (self.prefix, group.folder, where, name) if p)
                runs = group.runs
                pieces = (read(a, b) for a, b in zip(runs[::2], runs[1::2], strict=True))
                if ndjson:
                    plain = b"".join(piece for run in pieces for piece in run)
                    yield Obj(key, _gzip(iter([iter([plain])])), group.row_keys, plain)
                else:
                    yield Obj(key, _gzip(pieces), group.row_keys)
        finally:
            self.close()

    def close(self) -> None:
        """Drop the spill file (it is unlinked already; this frees the space now)."""
        if self._spill is not None:
            self._spill.close()
            self._spill = None
        self._buffer = bytearray()

    def _spill_buffer(self) -> None:
        if self._spill is None:
            self._spill = tempfile.TemporaryFile(prefix="slack-batch-", dir=self.sizing.spill_dir)
        self._spill.write(self._buffer)
        self._buffer = bytearray()

    def _reader(self) -> Reader:
        """A function from a range of the line stream to its bytes, in pieces."""
        if self._spill is None:
            memory, self._buffer = self._buffer, bytearray()

            def from_memory(start: int, end: int) -> Iterator[bytes | memoryview]:
                yield memoryview(memory)[start:end]

            return from_memory
        self._spill_buffer()
        self._spill.flush()
        fd = self._spill.fileno()

        def from_disk(start: int, end: int) -> Iterator[bytes | memoryview]:
            while start < end:
                piece = os.pread(fd, min(READ_CHUNK, end - start), start)
                if not piece:
                    raise OSError(f"spill file ended at {start}, expected {end}")
                start += len(piece)
                yield piece

        return from_disk


def _gzip(pieces: Iterator[Iterator[bytes | memoryview]]) -> bytes:
    squeeze = isal_zlib.compressobj(GZIP_LEVEL, isal_zlib.DEFLATED, 31)
    out = [squeeze.compress(piece) for run in pieces for piece in run]
    out.append(squeeze.flush())
    return b"".join(out)
