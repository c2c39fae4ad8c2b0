"""One poll of one source and log type: fetch → validate → dedupe → enrich → batch → write → commit.

Every raw record ends in exactly one place: an output object, quarantine (with the reason),
or a counted dedupe skip. State moves only after the objects holding the records exist in
the sink, and the dedupe keys move in the same transaction as the checkpoint.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Protocol

from pydantic import ValidationError

from connector import clock
from connector.budget import MEMORY
from connector.ingest.batch import QUARANTINE, Batch, Sizing
from connector.ingest.derived import Derivations
from connector.ingest.enrich import Enricher, Source, quarantine_row
from connector.ingest.identity import RowIds
from connector.ingest.partition import GRANULARITIES
from connector.ingest.validate import explain, not_an_object, unconvertible
from connector.ingest.writer import WriteBehind
from connector.logtypes.base import LogType
from connector.sinks.base import Sink
from connector.slack.errors import SlackError
from connector.state import StateStore, UnitOfWork
from connector.stream import Checkpoint, Page, PollContext, PollStopped

log = logging.getLogger(__name__)


@dataclass
class PollResult:
    """What one poll did, for logs, metrics and alerts."""

    fetched: int = 0
    written: int = 0
    quarantined: int = 0
    duplicates: int = 0
    objects: int = 0
    bytes: int = 0
    pages: int = 0
    recovered: int = 0
    derived: dict[str, int] = field(default_factory=dict)
    """What the derived objects committed held, per their outputs' labels."""
    newest_event: float = 0.0
    """The newest event time among the rows written (0 when none was)."""


@dataclass(frozen=True)
class BatchLimits:
    """Object sizes and holding limits (see `connector.ingest.batch.Sizing`), and partition
    granularity per log type name where it differs from the log type's own."""

    prefix: str = "slack"
    max_events: int = 10_000
    max_bytes: int = 64 * 1024 * 1024
    hold_events: int = 1_000_000
    hold_bytes: int = 1024 * 1024 * 1024
    spill_dir: str | None = None
    partitions: Mapping[str, str] = field(default_factory=dict)

    def sizing(self) -> Sizing:
        return Sizing(
            self.max_events, self.max_bytes, self.hold_events, self.hold_bytes, self.spill_dir
        )


Watch = Callable[[list[bytes]], object]
"""Sees the lines of one page's newly written rows; must be quick."""


class Observer(Protocol):
    """Something that looks at rows as they land: the watchlist, the detections.

    `watch` is asked once per page; None means nothing is watched for this stream now, and
    when no observer watches, a page's lines are not kept beside the batch (65 MB more peak
    RSS in a 1M-event backfill at 9,999 a page). Kept, each is copied to its own size:
    orjson returns a line in an ~8 KB allocation."""

    def watch(self, source_id: str, log_type: str) -> Watch | None: ...

    def poll_done(self, source_id: str, log_type: str) -> None:
        """The poll ended (well or not): what it saw may be acted on as a whole."""


class Pipeline:
    def __init__(
        self,
        store: StateStore,
        sink: Sink,
        limits: BatchLimits,
        observers: Sequence[Observer] = (),
        derived: Derivations | None = None,
    ) -> None:
        self.store = store
        self.sink = sink
        self.limits = limits
        self.observers = tuple(observers)
        self.derived = derived or Derivations()

    def poll(
        self,
        source: Source,
        logtype: LogType,
        ctx: PollContext,
        progress: Callable[[PollResult, Page], None] | None = None,
    ) -> PollResult:
        """Fetched pages are written even when Slack fails halfway; the sink failing stops all."""
        result = PollResult()
        result.recovered = self.recover(source, logtype)
        ctx.checkpoint = self.store.checkpoint(source.stream, logtype.checkpoint_key)
        batch = self._new_batch(source, logtype)
        pending: Checkpoint | None = None
        writer = WriteBehind(
            lambda full, checkpoint: self._flush(source, logtype, full, checkpoint, result),
            f"write-{source.stream}-{logtype.name}",
        )
        try:
            try:
                with MEMORY.poll():
                    for page in logtype.pages(ctx):
                        result.pages += 1
                        self._ingest(source, logtype, page, batch, writer, result)
                        MEMORY.page_done()
                        pending = page.checkpoint or pending
                        if batch.due(pending is not None):
                            writer.submit(batch, pending)
                            batch, pending = self._new_batch(source, logtype), None
                        if progress:
                            progress(result, page)
                        del page
            except (SlackError, PollStopped):
                writer.wait()
                self._flush(source, logtype, batch, pending, result)
                raise
            writer.wait()
            self._flush(source, logtype, batch, pending, result)
        finally:
            writer.shutdown()
            batch.close()
            for observer in self.observers:
                _observe(partial(observer.poll_done, source.id, logtype.name), source, logtype)
        return result

    def recover(self, source: Source, logtype: LogType) -> int:
        """Settle writes a crash interrupted: objects that exist are written, others never were."""
        unit = UnitOfWork(self.store, source.stream, logtype.name)
        recovered = unit.settle(self.sink.settle, self.derived.restorer(self.sink, unit))
        if recovered:
            log.info(
                "recovered interrupted write",
                extra={"source_id": source.stream, "log_type": logtype.name, "objects": recovered},
            )
        return recovered

    def _new_batch(self, source: Source, logtype: LogType) -> Batch:
        name = self.limits.partitions.get(logtype.name, logtype.partition)
        granularity = {logtype.log_type: GRANULARITIES[name]}
        return Batch(self.limits.prefix, source.object_name, self.limits.sizing(), granularity)

    def _ingest(
        self,
        source: Source,
        logtype: LogType,
        page: Page,
        batch: Batch,
        in_flight: WriteBehind,
        result: PollResult,
    ) -> None:
        """Dedupe on the natural key first, so re-read records cost no validation; a
        record is validated, enriched and compressed one at a time, so nothing but the
        page itself is held. Runs once per event, so the common path is inline."""
        now = clock.now().timestamp()
        parse_time = clock.rfc3339(now)
        row_ids = RowIds(source, logtype)
        enricher = Enricher(source, logtype, parse_time)
        validate_record = type(logtype).validate_record
        records = page.records
        ids = [row_ids.of(raw) if isinstance(raw, dict) else None for raw in records]
        already = self.store.seen(source.stream, logtype.name, [i[1] for i in ids if i])
        written = duplicates = 0
        newest = result.newest_event
        scans = [w for o in self.observers if (w := o.watch(source.id, logtype.name)) is not None]
        landed: list[bytes] | None = [] if scans else None
        in_batch, in_flight_keys = batch.keys, in_flight.keys
        for raw, known in zip(records, ids, strict=True):
            if known is None:
                reason = not_an_object(raw)
            else:
                rid, key = known
                if key in already or key in in_batch or key in in_flight_keys:
                    duplicates += 1
                    continue
                try:
                    line, event_ts = enricher.line(raw, validate_record(raw), rid)
                except ValidationError as exc:
                    reason = explain(exc)
                except Exception as exc:  # noqa: BLE001  one record never fails a page
                    reason = unconvertible(exc)
                else:
                    batch.add(logtype.log_type, line, key, event_ts)
                    if landed is not None:
                        landed.append(bytes(memoryview(line)))
                    written += 1
                    if event_ts > newest:
                        newest = event_ts
                    continue
            rid, key = row_ids.of_invalid(raw)
            if (
                key in in_batch
                or key in in_flight_keys
                or self.store.seen(source.stream, logtype.name, [key])
            ):
                duplicates += 1
                continue
            row = quarantine_row(source, logtype, raw, reason, rid, parse_time)
            batch.add(f"{QUARANTINE}/{logtype.log_type}", row, key, now)
            result.quarantined += 1
        result.fetched += len(ids)
        result.written += written
        result.newest_event = newest
        result.duplicates += duplicates
        if landed:
            for scan in scans:
                _observe(partial(scan, landed), source, logtype)

    def _flush(
        self,
        source: Source,
        logtype: LogType,
        batch: Batch,
        checkpoint: Checkpoint | None,
        result: PollResult,
    ) -> None:
        """Objects are compressed and written one at a time, each recorded as a write
        intent just before its upload and followed by its derived objects; the keys and
        the checkpoint move after the last."""
        unit = UnitOfWork(self.store, source.stream, logtype.name, logtype.checkpoint_key)
        derived: dict[str, int] = {}
        with MEMORY.write():
            for obj in batch.objects(ndjson=bool(self.derived)):
                with unit.writing(obj.key, len(obj.body), obj.row_keys):
                    self.sink.put(obj.key, obj.body, unit.check_lease)
                    for label, n in self.derived.write(unit, obj.key, obj.ndjson).items():
                        derived[label] = derived.get(label, 0) + n
                del obj
        stored = checkpoint.dump() if checkpoint else None
        prune = checkpoint.prune_before() if checkpoint else None
        if unit.commit(stored, prune):
            result.objects += len(unit.objects)
            result.bytes += unit.bytes
            for label, n in derived.items():
                result.derived[label] = result.derived.get(label, 0) + n


def _observe(call: Callable[..., object], source: Source, logtype: LogType) -> None:
    """An observer that fails costs its own alerts, never the rows: they are in the batch."""
    try:
        call()
    except Exception as exc:  # noqa: BLE001
        log.error(
            "an observer of landed rows failed",
            extra={"source_id": source.id, "log_type": logtype.name, "error": type(exc).__name__},
        )
