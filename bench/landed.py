"""A month of landed audit rows on local disk, written by the connector's own writer code.

The rows are the benchmark's audit events re-dated evenly over `days` days, validated,
enriched (`p_*` fields, indicators) and batched by `connector.ingest.batch.Batch` into
`LocalSink`, so the files have exactly the layout, compression and object sizes the
daemon produces.
"""

from __future__ import annotations

from pathlib import Path

import orjson

from bench import dataset
from connector import clock
from connector.ingest.batch import Batch, Sizing
from connector.ingest.enrich import Enricher, Source
from connector.ingest.identity import RowIds
from connector.ingest.partition import GRANULARITIES
from connector.logtypes.audit import AuditLogs
from connector.sinks.local import LocalSink

PREFIX = "slack"
BATCH = 10_000


def write(root: Path, events: int, now: int, days: int = 30) -> dict[str, str]:
    """Land `events` audit rows under `root`; returns a few indicators that occur in them."""
    data = dataset.audit(events, now)
    source = Source("bench", "bench org")
    logtype = AuditLogs()
    sink = LocalSink(root)
    rows = RowIds(source, logtype)
    enricher = Enricher(source, logtype, clock.rfc3339(now))
    step = days * 86_400 / max(events, 1)
    sizing = Sizing(max_events=BATCH)
    granularity = {logtype.log_type: GRANULARITIES[logtype.partition]}
    batch = Batch(PREFIX, source.id, sizing, granularity)
    sample: dict[str, str] = {}
    for i in range(events):
        raw = orjson.loads(data.event(i))
        raw["date_create"] = now - 60 - int(i * step)
        rid, key = rows.of(raw)
        line, ts = enricher.line(raw, AuditLogs.validate_record(raw), rid)
        batch.add(logtype.log_type, line, key, ts)
        if i == events // 2:
            actor = raw["actor"]["user"]
            sample = {"ip": raw["context"]["ip_address"], "email": actor["email"]}
        if batch.due(checkpoint_waiting=True):
            _flush(batch, sink)
            batch = Batch(PREFIX, source.id, sizing, granularity)
    _flush(batch, sink)
    return sample


def _flush(batch: Batch, sink: LocalSink) -> None:
    for obj in batch.objects():
        sink.put(obj.key, obj.body)
