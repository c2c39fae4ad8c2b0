"""A month of landed audit rows on local disk, written by the connector's own writer code.

The rows are the benchmark's audit events (and with `others` access and integration log
rows) re-dated evenly over `days` days, validated,
enriched (`p_*` fields, indicators) and batched by `connector.ingest.batch.Batch` into
`LocalSink`, so the files have exactly the layout, compression and object sizes the
daemon produces. With `indexed`, each object's search index is written beside it by the
daemon's derived output (`connector.search.index.SearchIndex`), and the CPU it took is
counted apart. `office` is the share of rows whose sign-in IP is the office NAT address
`OFFICE_IP` (a common indicator).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from bench import dataset
from connector import clock
from connector.ingest.batch import Batch, Sizing
from connector.ingest.enrich import Enricher, Source
from connector.ingest.identity import RowIds
from connector.ingest.partition import GRANULARITIES
from connector.logtypes.access import AccessLogs
from connector.logtypes.audit import AuditLogs
from connector.logtypes.base import LogType
from connector.logtypes.integration import IntegrationLogs
from connector.search.index import SearchIndex
from connector.sinks.local import LocalSink

PREFIX = "slack"
BATCH = 10_000
CHUNK = 1_000_000
"""Audit events generated at a time (10M at once would hold ~8 GB)."""
OFFICE_IP = "203.0.113.10"


@dataclass
class Landed:
    sample: dict[str, str] = field(default_factory=dict)
    cpu_s: float = 0.0
    """CPU seconds of everything but the index: validate, enrich, batch, gzip, write."""
    index_cpu_s: float = 0.0


def write(
    root: Path, events: int, now: int, days: int = 30, indexed: bool = False, office: float = 0.0
) -> dict[str, str]:
    """Land `events` audit rows under `root`; returns a few indicators that occur in them."""
    return land(root, events, now, days, indexed, office).sample


def land(
    root: Path,
    events: int,
    now: int,
    days: int = 30,
    indexed: bool = False,
    office: float = 0.0,
    others: bool = False,
) -> Landed:
    """`others`: also a tenth as many access log rows and a hundredth as many integration
    log rows over the same days (daily partitions, their own enrich and batch)."""
    sink = LocalSink(root)
    index = SearchIndex(sink, PREFIX) if indexed else None
    step = days * 86_400 / max(events, 1)
    every = round(1 / office) if office else 0
    out = Landed()

    def audit_rows() -> Iterator[dict[str, Any]]:
        for start in range(0, events, CHUNK):
            yield from chunk(start, min(events, start + CHUNK))

    def chunk(start: int, stop: int) -> Iterator[dict[str, Any]]:
        """Events start..stop: the generator's events of one seed (its memory is a few
        hundred bytes an event), ids made unique across seeds, dated by their place."""
        data = dataset.audit(stop - start, now, seed=7 + start // CHUNK)
        for i in range(start, stop):
            raw = orjson.loads(data.event(i - start))
            if start:
                raw["id"] = f"{raw['id']}-{start // CHUNK}"
            raw["date_create"] = now - 60 - int(i * step)
            if every and i % every == 0:
                raw["context"]["ip_address"] = OFFICE_IP
            if i > events // 2 and not out.sample and ":" not in raw["context"]["ip_address"]:
                actor = raw["actor"]["user"]
                out.sample = {"ip": raw["context"]["ip_address"], "email": actor["email"]}
            yield raw

    start = time.process_time()
    _land(AuditLogs(), audit_rows(), sink, index, out, now)
    if others:
        _land(AccessLogs(), _access(events // 10, now, days), sink, index, out, now)
        _land(IntegrationLogs(), _integration(events // 100, now, days), sink, index, out, now)
    out.cpu_s = time.process_time() - start - out.index_cpu_s
    return out


def _access(n: int, now: int, days: int) -> Iterator[dict[str, Any]]:
    step = days * 86_400 / max(n, 1)
    for i, raw in enumerate(dataset.access(n, now)):
        raw["date_last"] = last = now - 60 - int(i * step)
        raw["date_first"] = min(raw["date_first"], last)
        yield raw


def _integration(n: int, now: int, days: int) -> Iterator[dict[str, Any]]:
    step = days * 86_400 / max(n, 1)
    for i, raw in enumerate(dataset.integration(n, now)):
        raw["date"] = str(now - 60 - int(i * step))
        yield raw


def _land(
    logtype: LogType,
    raws: Iterable[dict[str, Any]],
    sink: LocalSink,
    index: SearchIndex | None,
    out: Landed,
    now: int,
) -> None:
    """One log type's rows through validate, enrich and batch into `sink`."""
    source = Source("bench", "bench org")
    rows = RowIds(source, logtype)
    enricher = Enricher(source, logtype, clock.rfc3339(now))
    sizing = Sizing(max_events=BATCH)
    granularity = {logtype.log_type: GRANULARITIES[logtype.partition]}
    batch = Batch(PREFIX, source.id, sizing, granularity)
    for raw in raws:
        rid, key = rows.of(raw)
        line, ts = enricher.line(raw, type(logtype).validate_record(raw), rid)
        batch.add(logtype.log_type, line, key, ts)
        if batch.due(checkpoint_waiting=True):
            _flush(batch, sink, index, out)
            batch = Batch(PREFIX, source.id, sizing, granularity)
    _flush(batch, sink, index, out)


def _flush(batch: Batch, sink: LocalSink, index: SearchIndex | None, out: Landed) -> None:
    for obj in batch.objects(ndjson=index is not None):
        sink.put(obj.key, obj.body)
        if index is not None and obj.ndjson is not None:
            t0 = time.process_time()
            for derived in index.derive(obj.key, obj.ndjson):
                derived.sink.put(derived.key, derived.body)
            out.index_cpu_s += time.process_time() - t0
