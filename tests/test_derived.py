"""Derived objects (`connector.ingest.derived`) share their data object's exactly-once
protocol: written after it under the same unit of work, remade by recovery when a crash
fell between them, against both state stores and with the real sinks (a local directory,
and S3 in moto's server mode over 127.0.0.1).

The derived output here is a test one, the ids of a data object's rows beside it, so what
is checked is the seam, not what any real output makes.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from connector.ingest.derived import Derivations, DerivedObject
from connector.ingest.enrich import Source
from connector.ingest.pipeline import BatchLimits, Pipeline
from connector.logtypes.audit import AuditLogs
from connector.logtypes.base import Page, PollContext
from connector.sinks.base import Sink, SinkError
from connector.sinks.local import LocalSink
from connector.sinks.s3 import S3Sink
from connector.sinks.stdout import StdoutSink
from connector.state import LeaseLost, SqliteOptions, StateStore, UnitOfWork
from tests.conftest import dynamodb_options
from tests.fakes.dying_sink import Died, DyingSink
from tests.test_write_behind import PageNumber

SOURCE = Source("acme", "Acme")
T0 = 1_700_000_000
HOUR = 3600


def event(n: int) -> dict[str, Any]:
    return {
        "id": f"evt-{n}",
        "date_create": T0 - n * 1000,
        "action": "user_login",
        "actor": {"type": "user", "user": {"id": "W1"}},
        "entity": {"type": "user", "user": {"id": "W2"}},
        "context": {"ip_address": "10.0.0.1"},
    }


class Scripted(AuditLogs):
    """Pages of events (a string is a record that is not an object: quarantined)."""

    def __init__(self, pages: list[list[int | str]]) -> None:
        self.script = pages

    def pages(self, ctx: PollContext) -> Iterator[Page]:
        for number, ids in enumerate(self.script, 1):
            records = [event(n) if isinstance(n, int) else n for n in ids]
            yield Page(records, PageNumber(page=number))


class Ids:
    """`ids/<data key>.txt`: the ids of the data object's rows, sorted."""

    name = "ids"

    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self.seen: list[tuple[str, bytes]] = []

    def derive(self, key: str, ndjson: bytes) -> Iterable[DerivedObject]:
        self.seen.append((key, ndjson))
        ids = sorted(orjson.loads(line)["id"] for line in ndjson.splitlines())
        yield DerivedObject(self.sink, f"ids/{key}.txt", "\n".join(ids).encode(), {"ids": len(ids)})


@pytest.fixture(params=["sqlite", "dynamodb"])
def options(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    if request.param == "sqlite":
        return SqliteOptions(path=str(tmp_path / "state.db"))
    return dynamodb_options(request.getfixturevalue("moto_endpoint"))


@pytest.fixture(params=["local", "s3"])
def sink(request: pytest.FixtureRequest, tmp_path: Path) -> Sink:
    if request.param == "local":
        return LocalSink(tmp_path / "out")
    client, bucket = request.getfixturevalue("s3_bucket")
    return S3Sink(client, bucket)


def opened(options: Any) -> StateStore:
    store: StateStore = options.open()
    store.claim([("acme", "audit")])
    return store


def poll(options: Any, sink: Sink, pages: list[list[int | str]], ids: Ids) -> Any:
    store = opened(options)
    try:
        pipeline = Pipeline(store, sink, BatchLimits("s", max_events=3), derived=Derivations([ids]))
        ctx = PollContext("acme", None, None, 0, 0, 0)  # type: ignore[arg-type]
        return pipeline.poll(SOURCE, Scripted(pages), ctx)
    finally:
        store.close()


def data_keys(sink: Sink, candidates: Iterable[str]) -> list[str]:
    return sorted(k for k in candidates if not k.startswith("ids/") and sink.exists(k))


def rows(sink: Sink, key: str) -> list[str]:
    return [orjson.loads(line)["id"] for line in gzip.decompress(sink.get(key)).splitlines()]


def check_exactly_once(sink: Sink, keys: Iterable[str], expected: set[str]) -> None:
    """Every data row lands once, and every data object has its derived object, holding
    exactly that object's ids; quarantine objects have none."""
    landed: list[str] = []
    for key in data_keys(sink, keys):
        if "/_quarantine/" in key:
            assert not sink.exists(f"ids/{key}.txt")
            continue
        ids = rows(sink, key)
        landed += ids
        assert sink.get(f"ids/{key}.txt").decode().split("\n") == sorted(ids)
    assert sorted(landed) == sorted(expected)


PAGES: list[list[int | str]] = [[1, 2, 3], [4, "not an object", 5, 6], [7, 8]]
EXPECTED = {f"evt-{n}" for n in range(1, 9)}


def test_each_data_object_gets_its_derived_objects_after_it(options: Any, sink: Sink) -> None:
    recorder = DyingSink(sink)
    ids = Ids(recorder)
    result = poll(options, recorder, PAGES, ids)
    data = [k for k in recorder.puts if not k.startswith("ids/")]
    assert [k for k in recorder.puts if k.startswith("ids/")] == [
        f"ids/{k}.txt" for k in data if "/_quarantine/" not in k
    ]
    for key in data:  # each derived object right after its data object
        if "/_quarantine/" not in key:
            assert recorder.puts[recorder.puts.index(key) + 1] == f"ids/{key}.txt"
    assert [k for k, _ in ids.seen] == [k for k in data if "/_quarantine/" not in k]
    for key, ndjson in ids.seen:  # the uncompressed rows the object holds, not re-read
        assert ndjson == gzip.decompress(sink.get(key))
    check_exactly_once(sink, recorder.puts, EXPECTED)
    assert result.written == 8 and result.quarantined == 1
    assert result.derived == {"ids": 8}


@pytest.mark.parametrize("die_on_put", range(1, 12))
@pytest.mark.parametrize("stored", [True, False])
def test_a_crash_at_any_upload_loses_and_doubles_nothing(
    options: Any, sink: Sink, die_on_put: int, stored: bool
) -> None:
    """Died after (or before) storing the n-th object, data or derived; the next poll
    recovers, remaking what a data object that exists lacks, and polls on."""
    dying = DyingSink(sink, die_on_put=die_on_put, stored=stored)
    try:
        poll(options, dying, PAGES, Ids(dying))
    except Died:
        pass
    else:
        assert die_on_put > len(dying.puts)
    for key in dying.puts:  # a data object that does not exist has no derived object
        if not key.startswith("ids/") and not sink.exists(key):
            assert not sink.exists(f"ids/{key}.txt")
    again = DyingSink(sink)
    result = poll(options, again, PAGES, Ids(again))
    puts = {*dying.puts, *again.puts}
    check_exactly_once(sink, puts, EXPECTED)
    assert bool(result.recovered) == (die_on_put <= len(dying.puts))


def test_a_crash_while_recovery_remakes_a_derived_object(options: Any, sink: Sink) -> None:
    first = DyingSink(
        sink, die_on_put=2, stored=False
    )  # the data object landed, its derived one did not
    with pytest.raises(Died):
        poll(options, first, PAGES, Ids(first))
    second = DyingSink(sink, die_on_put=1, stored=False)  # recovery dies remaking it
    with pytest.raises(Died):
        poll(options, second, PAGES, Ids(second))
    assert second.puts == [f"ids/{first.puts[0]}.txt"]
    third = DyingSink(sink)
    poll(options, third, PAGES, Ids(third))
    assert third.puts[0] == f"ids/{first.puts[0]}.txt"
    check_exactly_once(sink, {*first.puts, *third.puts}, EXPECTED)


def test_a_failing_derived_sink_fails_the_poll_and_the_retry_lands_everything(
    options: Any, sink: Sink, tmp_path: Path
) -> None:
    broken = LocalSink(tmp_path / "file")
    broken.root.write_text("not a directory")
    first = DyingSink(sink)
    with pytest.raises(SinkError):
        poll(options, first, PAGES, Ids(broken))
    store = opened(options)
    try:
        assert store.checkpoint("acme", "audit") is None
        assert store.count_seen("acme", "audit") == 0
    finally:
        store.close()
    recorder = DyingSink(sink)
    poll(options, recorder, PAGES, Ids(recorder))
    check_exactly_once(sink, {*first.puts, *recorder.puts}, EXPECTED)


def test_nothing_derived_is_uploaded_without_the_lease(options: Any, sink: Sink) -> None:
    store: StateStore = options.open()
    try:
        unit = UnitOfWork(store, "elsewhere", "audit")
        derivations = Derivations([Ids(sink)])
        ndjson = orjson.dumps(event(1))
        if store.shared:
            with pytest.raises(LeaseLost):
                derivations.write(unit, "s/a.json.gz", ndjson)
            assert not sink.exists("ids/s/a.json.gz.txt")
        else:
            assert derivations.write(unit, "s/a.json.gz", ndjson) == {"ids": 1}
            assert sink.exists("ids/s/a.json.gz.txt")
    finally:
        store.close()


def test_sinks_read_back_what_they_stored(sink: Sink) -> None:
    sink.put("a/b.json.gz", b"body")
    assert sink.get("a/b.json.gz") == b"body"
    with pytest.raises(SinkError):
        sink.get("a/missing.json.gz")
    with pytest.raises(SinkError):
        StdoutSink().get("a/b.json.gz")


def test_no_derived_outputs_no_plain_rows_kept(tmp_path: Path) -> None:
    derivations = Derivations()
    assert not derivations and derivations.restorer(LocalSink(tmp_path), None) is None  # type: ignore[arg-type]
    assert not Derivations([Ids(LocalSink(tmp_path))]).wants("s/_quarantine/audit/x.json.gz")
