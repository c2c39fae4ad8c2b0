"""Objects sized for the reader: one object per partition per poll, whatever order Slack
returns rows in, with every row landing exactly once."""

from __future__ import annotations

import gzip
import random
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from connector.ingest import batch as batch_module
from connector.ingest.batch import Batch, Sizing
from connector.ingest.partition import DAY, HOUR
from connector.paging import limits
from tests import factories
from tests.conftest import local_settings, once, source
from tests.fakes.slack_server import FakeSlack

DAYS = 90


def _objects(out: Path, folder: str) -> dict[str, list[dict[str, Any]]]:
    root = out / "slack" / folder
    return (
        {
            p.relative_to(root).as_posix(): [
                orjson.loads(x) for x in gzip.decompress(p.read_bytes()).splitlines()
            ]
            for p in sorted(root.rglob("*.json.gz"))
        }
        if root.exists()
        else {}
    )


def _day(ts: float) -> str:
    when = datetime.fromtimestamp(ts, UTC)
    return f"year={when.year}/month={when.month}/day={when.day}"


def _settings(slack: FakeSlack, tmp_path: Path, **output: Any) -> Any:
    return local_settings(
        tmp_path,
        source(
            slack,
            first_run_lookback_seconds=(DAYS + 2) * 86_400,
            log_types=["access", "integration"],
        ),
        **output,
    )


@pytest.mark.parametrize("max_events", [None, 500])
@pytest.mark.parametrize("sort_key", ["date_last", "date_first"])
def test_first_poll_of_long_access_history_is_one_object_per_day(
    slack: FakeSlack, tmp_path: Path, sort_key: str, max_events: int | None
) -> None:
    """3,000 rows over 90 days: 3 pages, one object per event day in either sort order
    (before: one per event hour and batch, 1,298 objects for 3,000 rows). With objects of
    at most 500 rows, each page of the walk has a checkpoint to commit, but the walk
    commits every ten objects' worth of rows, not every object's (before: 270 objects,
    one per day and page)."""
    now = factories.now()
    rng = random.Random(5)
    rows = []
    for i in range(3000):
        last = now - rng.randrange(DAYS * 86_400)
        rows.append(
            factories.access(
                f"U{i}", f"10.0.{i // 250}.{i % 250}", "UA", last - rng.randrange(86_400 * 30), last
            )
        )
    slack.add_access(rows)
    slack.access_sort_key = slack.access_before_field = sort_key
    sizes = {"batch_max_events": max_events} if max_events else {}
    settings = _settings(slack, tmp_path, **sizes)

    (outcome, _) = once(settings)

    assert outcome.ok, outcome.detail
    objects = _objects(tmp_path / "out", "Slack.AccessLogs")
    landed = [r for rs in objects.values() for r in rs]
    assert sorted((r["user_id"], r["ip"]) for r in landed) == sorted(
        (r["user_id"], r["ip"]) for r in rows
    ), "every row exactly once"
    days = {_day(r["date_last"]) for r in rows}
    assert len(objects) == len(days) == outcome.result.objects
    for key, object_rows in objects.items():
        assert {_day(r["date_last"]) for r in object_rows} == {key.rsplit("/", 1)[0]}


@pytest.mark.parametrize("order", ["newest_first", "oldest_first"])
def test_first_poll_of_integration_history_is_one_object_per_day(
    slack: FakeSlack, tmp_path: Path, order: str
) -> None:
    now = factories.now()
    logs = [factories.integration(i, now - i * (DAYS * 86_400 // 1500)) for i in range(1500)]
    slack.add_integration(logs)
    slack.integration_order = order
    settings = _settings(slack, tmp_path, partitions={"access": "hour"})

    (_, outcome) = once(settings)

    assert outcome.ok, outcome.detail
    objects = _objects(tmp_path / "out", "Slack.IntegrationLogs")
    assert sum(len(v) for v in objects.values()) == len(logs)
    assert len(objects) == len({_day(int(r["date"])) for r in logs})


def test_steady_state_writes_one_object_per_partition_per_poll(
    slack: FakeSlack, tmp_path: Path
) -> None:
    now = factories.now()
    slack.add_audit([factories.audit(i, now - 7200 + i) for i in range(50)])
    slack.add_access(
        [factories.access(f"U{i}", "10.1.1.1", "UA", now - 3 * 3600) for i in range(40)]
    )
    slack.add_integration([factories.integration(i, now - 3 * 3600) for i in range(30)])
    settings = local_settings(tmp_path, source(slack, page_size=10), batch_max_events=25)
    assert all(o.ok for o in once(settings))
    now = factories.now()
    slack.add_audit([factories.audit(100 + i, now - 30 + i % 20) for i in range(60)])
    slack.add_access([factories.access(f"V{i}", "10.2.2.2", "UA", now - 20) for i in range(45)])
    slack.add_integration([factories.integration(100 + i, now - 10) for i in range(35)])

    outcomes = {o.log_type: o for o in once(settings)}

    assert outcomes["access"].result.written == 45
    assert outcomes["integration"].result.written == 35
    # 45 rows with objects of at most 25: two objects, both in the one partition
    assert outcomes["access"].result.objects == 2
    assert outcomes["integration"].result.objects == 2
    # audit checkpoints after every page, so it writes every 25 rows (10-entry pages)
    assert outcomes["audit"].result.written == 60
    objects = _objects(tmp_path / "out", "Slack.AuditLogs")
    assert all(len(rows) <= 25 for rows in objects.values())


def test_hold_limit_writes_mid_poll_and_keeps_every_row_once(
    slack: FakeSlack, tmp_path: Path
) -> None:
    now = factories.now()
    rows = [factories.access(f"U{i}", "10.0.0.1", "UA", now - i * 600) for i in range(300)]
    slack.add_access(rows)
    settings = local_settings(
        tmp_path,
        source(slack, log_types=["access"], page_size=50, first_run_lookback_seconds=4 * 86_400),
        hold_max_events=100,
    )
    writes: list[int] = []
    from connector.sinks.local import LocalSink

    put = LocalSink.put

    def counting(
        self: LocalSink, key: str, body: bytes, check_lease: Callable[[], None] | None = None
    ) -> None:
        if key.endswith(".json.gz"):  # data objects, not the search index beside them
            writes.append(len(gzip.decompress(body).splitlines()))
        put(self, key, body, check_lease)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(LocalSink, "put", counting)
        mp.setattr(limits, "MAX_COUNT", 50)  # a first run's backlog pages, scaled to 50
        (outcome,) = once(settings)
    assert outcome.ok
    assert sum(writes) == 300
    assert len(writes) > len({_day(r["date_last"]) for r in rows}), "written before the end"
    landed = [r for rs in _objects(tmp_path / "out", "Slack.AccessLogs").values() for r in rs]
    assert sorted(r["user_id"] for r in landed) == sorted(r["user_id"] for r in rows)


def test_batch_spills_to_disk_and_reads_back_every_line_in_order(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(batch_module, "SPILL_AT", 1000)
    monkeypatch.setattr(batch_module, "READ_CHUNK", 777)
    batch = Batch(
        "p",
        "s",
        Sizing(max_events=40, spill_dir=str(tmp_path)),
        {"A": DAY, "B": HOUR},
    )
    rng = random.Random(3)
    sent: dict[str, list[bytes]] = {}
    for i in range(500):
        folder = "A" if i % 3 else "B"
        ts = 1_700_000_000 + rng.randrange(5) * 86_400 + rng.randrange(86_400)
        line = orjson.dumps({"i": i, "pad": "x" * rng.randrange(80)})
        batch.add(folder, line, i.to_bytes(16, "big"), ts)
        unit = DAY if folder == "A" else HOUR
        where = f"{folder}/{unit.path(ts // unit.seconds)}"
        sent.setdefault(where, []).append(line)
    assert batch._spill is not None and len(batch._buffer) < 1000, "lines went to the spill file"

    got: dict[str, list[bytes]] = {}
    for obj in batch.objects():
        lines = gzip.decompress(obj.body).splitlines()
        assert len(lines) == len(obj.row_keys) <= 40
        assert [orjson.loads(x)["i"].to_bytes(16, "big") for x in lines] == obj.row_keys
        got.setdefault(obj.key.split("/", 1)[1].rsplit("/", 1)[0], []).extend(lines)
    assert got == sent
    assert batch._spill is None, "the spill file is closed once the objects are made"
