"""Full batches are written on a thread of their own while the poll reads on.

Pipeline-level tests with a scripted log type, the real state store and the local sink:
a failed write must stop everything after it, and a record repeated across the batch in
flight and the next one must still land once.
"""

from __future__ import annotations

import gzip
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import orjson
import pytest

from connector.ingest.enrich import Source
from connector.ingest.pipeline import BatchLimits, Pipeline
from connector.logtypes.audit import AuditLogs
from connector.logtypes.base import Page, PollContext
from connector.sinks.base import SinkError
from connector.sinks.local import LocalSink
from connector.state.sqlite import StateStore
from connector.stream.checkpoint import Checkpoint

SOURCE = Source("acme", "Acme")


def event(n: int) -> dict[str, Any]:
    return {
        "id": f"evt-{n}",
        "date_create": 1_700_000_000 - n,
        "action": "user_login",
        "actor": {"type": "user", "user": {"id": "W1"}},
        "entity": {"type": "user", "user": {"id": "W2"}},
        "context": {"ip_address": "10.0.0.1"},
    }


class PageNumber(Checkpoint):
    kind: ClassVar[str] = "test:page-number"
    page: int


class Scripted(AuditLogs):
    """Pages of events; each page's checkpoint is its number."""

    def __init__(self, pages: list[list[int]]) -> None:
        self.script = pages

    def pages(self, ctx: PollContext) -> Iterator[Page]:
        for number, ids in enumerate(self.script, 1):
            yield Page([event(n) for n in ids], PageNumber(page=number))


class FailingSink(LocalSink):
    """Fails the n-th upload, slowly, so the poll has read on by then."""

    def __init__(self, root: Path, fail_on: int) -> None:
        super().__init__(root)
        self.fail_on, self.puts = fail_on, 0
        self.lock = threading.Lock()

    def put(self, key: str, body: bytes, check_lease: Callable[[], None] | None = None) -> None:
        with self.lock:
            self.puts += 1
            failing = self.puts == self.fail_on
        if failing:
            threading.Event().wait(0.2)
            raise SinkError("local: injected failure")
        super().put(key, body)


def landed(root: Path) -> list[str]:
    ids = []
    for path in sorted(root.rglob("*.json.gz")):
        ids += [
            orjson.loads(line)["id"] for line in gzip.decompress(path.read_bytes()).splitlines()
        ]
    return ids


def poll(tmp_path: Path, sink: LocalSink, pages: list[list[int]]) -> Any:
    store = StateStore(tmp_path / "state.db")
    try:
        pipeline = Pipeline(store, sink, BatchLimits(max_events=2))
        ctx = PollContext("acme", None, None, 0, 0, 0)  # type: ignore[arg-type]
        pipeline.poll(SOURCE, Scripted(pages), ctx)
    finally:
        checkpoint = store.checkpoint("acme", "audit")
        store.close()
    return checkpoint


def test_a_failed_write_stops_every_batch_after_it(tmp_path: Path) -> None:
    pages = [[1, 2], [3, 4], [5, 6], [7, 8]]
    with pytest.raises(SinkError):
        poll(tmp_path, FailingSink(tmp_path / "out", fail_on=2), pages)
    assert landed(tmp_path / "out") == ["evt-1", "evt-2"]
    assert PageNumber.load(poll(tmp_path, LocalSink(tmp_path / "out"), pages)) == PageNumber(page=4)
    assert sorted(landed(tmp_path / "out")) == sorted(f"evt-{n}" for n in range(1, 9))


def test_a_record_repeated_across_the_batch_in_flight_lands_once(tmp_path: Path) -> None:
    pages = [[1, 2], [2, 3], [3, 1, 4], [4, 5]]
    assert PageNumber.load(poll(tmp_path, LocalSink(tmp_path / "out"), pages)) == PageNumber(page=4)
    assert sorted(landed(tmp_path / "out")) == [f"evt-{n}" for n in range(1, 6)]
