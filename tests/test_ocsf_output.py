"""The OCSF output end to end: one `once` against the fake Slack (over 127.0.0.1) writes the
raw NDJSON and the OCSF Parquet, to a local directory and to S3 (moto's server mode), in
Amazon Security Lake's custom-source layout, one class per object, sorted by time, every
event validating against the vendored OCSF 1.1.0 schema; PyArrow and DuckDB read the
objects as they are; a crash between the raw object and its OCSF objects loses and
doubles nothing; `state show`'s status and `/metrics` count OCSF events per class.
"""

from __future__ import annotations

import io
import re
from collections import Counter
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
import pytest

from connector.config.load import parse
from connector.config.ocsf import OcsfConfig
from connector.ingest.derived import Derivations
from connector.ocsf.output import OcsfOutput
from connector.ocsf.parquet import to_parquet
from connector.service.app import App
from connector.sinks.local import LocalSink
from tests.conftest import read_local, source
from tests.factories import access, audit, integration, now
from tests.fakes.slack_server import FakeSlack
from tests.ocsf_schema import validate

LAYOUT = re.compile(
    r"^(lake/)?ext/(?P<source>slack-[a-z-]+)/region=eu-west-1/accountId=123456789012/"
    r"eventDay=(?P<day>\d{8})/acme_\d{8}T\d{6}Z_[0-9a-f]{24}\.parquet$"
)
ACTIONS = [
    "user_login",
    "user_login_failed",
    "file_downloaded",
    "anomaly",
    "role_change_to_admin",
    "huddle_ended",
]


def seed(slack: FakeSlack) -> int:
    t = now() - 3600
    slack.add_audit(audit(i, t + i, ACTIONS[i % len(ACTIONS)]) for i in range(60))
    slack.add_access(
        [access(f"U{i}", f"203.0.113.{i}", "Mozilla/5.0", t + i, t + i + 5) for i in range(7)]
    )
    slack.add_integration([integration(i, t + i) for i in range(5)])
    return 72


def settings(tmp_path: Path, slack: FakeSlack, **ocsf: Any) -> Any:
    return parse(
        {
            "state": {"path": str(tmp_path / "state.db")},
            "output": {"type": "local", "path": str(tmp_path / "out")},
            "ocsf": {
                "enabled": True,
                "region": "eu-west-1",
                "account_id": "123456789012",
                **ocsf,
            },
            "sources": [source(slack, log_types=["audit", "access", "integration"])],
        }
    )


def parquet_objects(sink_files: dict[str, bytes]) -> dict[str, list[dict[str, Any]]]:
    return {k: pq.read_table(io.BytesIO(v)).to_pylist() for k, v in sink_files.items()}


def local_files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.parquet"))}


def check_lake(objects: dict[str, list[dict[str, Any]]], expected: int) -> Counter[str]:
    per_class: Counter[str] = Counter()
    uids: list[str] = []
    for key, rows in objects.items():
        m = LAYOUT.match(key)
        assert m, key
        assert len({r["class_uid"] for r in rows}) == 1, key  # one class per object
        times = [r["time"] for r in rows]
        assert times == sorted(times), key  # sorted by time
        for r in rows:
            assert m["day"] == _day(r["time"])
            event = _json(r)
            assert validate(event) == [], (key, validate(event))
            uids.append(r["metadata"]["uid"])
        per_class[m["source"]] += len(rows)
    assert len(uids) == len(set(uids)) == expected  # every event once
    return per_class


def _day(ms: int) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y%m%d")


def _json(value: Any) -> Any:
    """A row as PyArrow reads it, as the JSON event: nulls dropped, maps as objects."""
    if isinstance(value, dict):
        return {
            k: dict(v) if k == "unmapped" else _json(v) for k, v in value.items() if v is not None
        }
    if isinstance(value, list):
        return [_json(v) for v in value]
    return value


def test_once_writes_both_outputs_locally(tmp_path: Path, slack: FakeSlack) -> None:
    expected = seed(slack)
    cfg = settings(tmp_path, slack, output="local", path=str(tmp_path / "lake"), prefix="lake")
    app = App(cfg)
    try:
        outcomes = app.once()
        assert all(o.ok for o in outcomes), outcomes
        derived = Counter[str]()
        for o in outcomes:
            derived.update(o.result.derived)
        metrics = app.metrics.registry.get_sample_value(
            "slack_connector_derived_events_total",
            {"source_id": "acme", "log_type": "audit", "output": "ocsf:authentication"},
        )
        status = app.store.status("acme", "audit")
    finally:
        app.close()
    assert len(read_local(tmp_path / "out")) == expected  # the raw output as before
    lake = tmp_path / "lake"
    per_class = check_lake(parquet_objects(local_files(lake)), expected)
    assert per_class["slack-authentication"] == 20 + 7  # logins, failed logins, access rows
    assert per_class["slack-detection-finding"] == 10
    assert per_class["slack-entity-management"] == 5
    assert per_class["slack-user-access"] == 10
    assert per_class["slack-base-event"] == 20  # huddle_ended, and downloads without a file
    # Each raw row is one OCSF event; the search index (on by default) covers each row too.
    assert sum(n for label, n in derived.items() if label.startswith("ocsf:")) == expected
    assert derived["indexed_rows"] == expected
    assert metrics == 20 and status is not None
    assert status["derived_total"]["ocsf:authentication"] == 20


def test_once_writes_the_lake_bucket_in_s3(
    tmp_path: Path, slack: FakeSlack, moto_endpoint: str, s3_bucket: tuple[Any, str]
) -> None:
    client, bucket = s3_bucket
    expected = seed(slack)
    cfg = settings(tmp_path, slack, bucket=bucket, endpoint_url=moto_endpoint)
    app = App(cfg)
    try:
        assert all(o.ok for o in app.once())
    finally:
        app.close()
    listed = client.list_objects_v2(Bucket=bucket).get("Contents", [])
    files = {
        o["Key"]: client.get_object(Bucket=bucket, Key=o["Key"])["Body"].read() for o in listed
    }
    heads = {client.head_object(Bucket=bucket, Key=k)["ContentType"] for k in files}
    assert heads == {"application/vnd.apache.parquet"}
    check_lake(parquet_objects(files), expected)


def test_duckdb_and_pyarrow_read_the_objects_as_they_are(tmp_path: Path, slack: FakeSlack) -> None:
    expected = seed(slack)
    cfg = settings(tmp_path, slack, output="local", path=str(tmp_path / "lake"))
    app = App(cfg)
    try:
        app.once()
    finally:
        app.close()
    root = tmp_path / "lake" / "ext"
    dataset = pq.ParquetDataset(str(root / "slack-authentication"))
    assert dataset.read().num_rows == 27
    con = duckdb.connect()
    try:
        counts = con.execute(
            "select class_uid, count(*), count(distinct metadata.uid) from read_parquet(?, hive_partitioning=true, union_by_name=true) group by class_uid order by class_uid",
            [str(root / "*" / "*" / "*" / "*" / "*.parquet")],
        ).fetchall()
        users = con.execute(
            "select user.uid, src_endpoint.ip, unmapped['context.location.name'] from read_parquet(?) where activity_id = 1 and metadata.log_name = 'Slack.AuditLogs' order by time limit 1",
            [str(root / "slack-authentication" / "*" / "*" / "*" / "*.parquet")],
        ).fetchall()
        days = con.execute(
            "select distinct eventDay from read_parquet(?, hive_partitioning=true)",
            [str(root / "slack-base-event" / "*" / "*" / "*" / "*.parquet")],
        ).fetchall()
    finally:
        con.close()
    assert sum(n for _, n, _ in counts) == expected
    assert all(n == distinct for _, n, distinct in counts)
    assert {uid for uid, _, _ in counts} == {0, 2004, 3002, 3004, 3005}
    assert users[0][0].startswith("W") and users[0][1].startswith("203.0.113.")
    assert users[0][2] is not None
    assert all(len(str(d)) == 8 for (d,) in days)


def test_rows_are_sorted_by_time_then_the_later_line_first() -> None:
    """Events of distinct times give the same bytes in any order; events of one time keep
    the later line first (Slack's newest-first order, reversed: the order they happened)."""
    import pyarrow.parquet as pq

    from connector.ocsf.mapper import to_ocsf

    rows = [audit(i, 1_700_000_000 + (i * 7919) % 100, "user_login") for i in range(50)]
    events = [to_ocsf({**r, "p_log_type": "Slack.AuditLogs"}) for r in rows]
    assert to_parquet("authentication", events) == to_parquet("authentication", events[::-1])
    same = [
        to_ocsf({**audit(i, 1_700_000_000, "user_login"), "p_log_type": "Slack.AuditLogs"})
        for i in range(3)
    ]
    table = pq.read_table(io.BytesIO(to_parquet("authentication", same)))
    assert [m["uid"] for m in table["metadata"].to_pylist()] == [
        e["metadata"]["uid"] for e in same[::-1]
    ]
    with pytest.raises(ValueError, match="no column"):
        to_parquet("user_access", events)


def test_events_become_arrow_every_chunk_of_rows_and_the_bytes_do_not_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Python mapper's output holds at most `CHUNK` events as dicts, whatever classes
    and days the rows spread over, and the chunking shows in no written byte."""
    import orjson

    from connector.ocsf import output as output_module
    from connector.ocsf import parquet

    t = 1_700_000_000
    rows = [audit(i, t + (i % 3) * 86_400 + i, ACTIONS[i % len(ACTIONS)]) for i in range(120)]
    rows += [access(f"U{i}", f"203.0.113.{i}", "Mozilla/5.0", t + i, t + i + 5) for i in range(9)]
    log_types = ["Slack.AuditLogs"] * 120 + ["Slack.AccessLogs"] * 9
    ndjson = b"".join(
        orjson.dumps({**r, "p_log_type": lt, "p_row_id": f"r{i}", "p_source_id": "acme"}) + b"\n"
        for i, (r, lt) in enumerate(zip(rows, log_types, strict=True))
    )
    cfg = OcsfConfig(enabled=True, output="local", account_id="123456789012")
    lake = OcsfOutput(cfg, LocalSink(str(tmp_path)), native=False)
    held: list[int] = []
    objects: set[parquet.ClassObject] = set()
    add = parquet.ClassObject.add

    def counting_add(self: parquet.ClassObject, event: dict[str, Any], line: int) -> None:
        add(self, event, line)
        objects.add(self)
        held.append(sum(len(o._pending) for o in objects))

    whole = {o.key: o.body for o in lake.derive("x/acme_1.json.gz", ndjson)}
    monkeypatch.setattr(parquet.ClassObject, "add", counting_add)
    monkeypatch.setattr(output_module, "CHUNK", 7)
    chunked = {o.key: o.body for o in lake.derive("x/acme_1.json.gz", ndjson)}
    assert chunked == whole
    assert len(whole) > 3  # classes x days
    assert len(held) == len(rows) and max(held) <= 7


def test_each_class_object_holds_what_arrow_makes_of_its_events() -> None:
    """`ClassObject` takes each event apart into its column values as it is added; the Arrow
    it builds is what `RecordBatch.from_pylist` makes of the same events, for every record
    the mapping tests know, in every class."""
    import pyarrow as pa

    from connector.ocsf import parquet
    from connector.ocsf.mapper import to_ocsf
    from connector.ocsf.output import UID_CLASS
    from tests.test_ocsf_mapping import KNOWN

    by_class: dict[str, list[dict[str, Any]]] = {}
    for row in KNOWN:
        event = to_ocsf(row)
        by_class.setdefault(UID_CLASS[event["class_uid"]], []).append(event)
    assert by_class.keys() == parquet.COLUMNS.keys()
    for cls, events in by_class.items():
        obj = parquet.ClassObject(cls)
        for event in events:
            obj.add(event)
        obj.flush()
        (batch,) = obj._batches
        assert batch.equals(pa.RecordBatch.from_pylist(events, schema=parquet.schema(cls))), cls


def test_config_names_the_missing_field() -> None:
    with pytest.raises(ValueError, match="bucket"):
        OcsfConfig(enabled=True, account_id="123456789012")
    with pytest.raises(ValueError, match="account_id"):
        OcsfConfig(enabled=True, bucket="lake")
    with pytest.raises(ValueError, match="source_names"):
        OcsfConfig(source_names={"dns_activity": "x"})
    assert OcsfConfig().enabled is False
    assert (
        OcsfConfig(source_names={"authentication": "SlackAuth"}).source_name("authentication")
        == "SlackAuth"
    )


def test_a_crash_between_the_raw_object_and_its_ocsf_objects(
    tmp_path: Path, slack: FakeSlack
) -> None:
    """Killed right after the raw object landed: the next poll's recovery writes the OCSF
    objects from the raw object read back, and the lake holds every event once."""
    from tests.fakes.dying_sink import Died, DyingSink

    expected = seed(slack)
    cfg = settings(tmp_path, slack, output="local", path=str(tmp_path / "lake"))
    lake = LocalSink(tmp_path / "lake")
    app = App(cfg)
    dying = DyingSink(lake, die_on_put=2, stored=False)
    app.pipeline.derived = Derivations([OcsfOutput(cfg.ocsf, dying)])
    try:
        with pytest.raises(Died):
            app.runners["acme"].poll("audit")
    finally:
        app.close()
    assert dying.puts and local_files(tmp_path / "lake")  # some OCSF objects, not all
    again = App(cfg)
    try:
        assert all(o.ok for o in again.once())
    finally:
        again.close()
    check_lake(parquet_objects(local_files(tmp_path / "lake")), expected)


def test_check_probes_the_lake(tmp_path: Path, slack: FakeSlack) -> None:
    from connector.cli import check

    cfg = settings(tmp_path, slack, output="local", path=str(tmp_path / "lake"))
    lines = [line for line in check.run(cfg) if line.name.startswith("ocsf")]
    assert [(line.name, line.ok) for line in lines] == [("ocsf local", True)]
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    cfg = settings(tmp_path, slack, output="local", path=str(blocked / "lake"))
    lines = [line for line in check.run(cfg) if line.name.startswith("ocsf")]
    assert [(line.name, line.ok) for line in lines] == [("ocsf local", False)]
