"""OCSF events of one class as one Parquet object, with a fixed Arrow schema per class.

The schema is fixed (not inferred from each batch) so every object of a class has the
same columns and types, whatever fields a batch happened to fill: Glue's crawler and
Athena's tables (`deploy/athena/ocsf.sql`) see one table per class. Each class's columns
are the fields its mapper fills (`COLUMNS`); what it does not fill is in `unmapped`
(`map<string, string>`). Rows are sorted by `time`, as Security Lake asks, and the
writer adds no timestamp, so the same events give the same bytes (a crash's retry
overwrites the same object).
"""

from __future__ import annotations

import io
from functools import cache
from typing import TYPE_CHECKING

from connector.ocsf.event import Event

if TYPE_CHECKING:
    import pyarrow as pa

COMPRESSION = "zstd"
"""Read by Athena (engine 3), Glue, DuckDB, Spark and PyArrow; smaller than Snappy."""

COMMON = [
    "activity_id",
    "activity_name",
    "category_uid",
    "category_name",
    "class_uid",
    "class_name",
    "type_uid",
    "type_name",
    "severity_id",
    "severity",
    "status_id",
    "status",
    "time",
    "metadata",
]
COLUMNS: dict[str, list[str]] = {
    "base_event": [*COMMON, "message", "unmapped"],
    "authentication": [
        *COMMON,
        "actor",
        "user",
        "session",
        "src_endpoint",
        "http_request",
        "service",
        "count",
        "start_time",
        "end_time",
        "unmapped",
    ],
    "account_change": [*COMMON, "actor", "user", "src_endpoint", "http_request", "unmapped"],
    "user_access": [*COMMON, "actor", "user", "privileges", "unmapped"],
    "group_management": [*COMMON, "actor", "group", "user", "unmapped"],
    "file_hosting": [*COMMON, "actor", "file", "src_endpoint", "unmapped"],
    "entity_management": [*COMMON, "actor", "entity", "unmapped"],
    "detection_finding": [*COMMON, "actor", "finding_info", "evidences", "unmapped"],
}


@cache
def _types() -> dict[str, pa.DataType]:
    import pyarrow as pa

    s, i32, i64 = pa.string(), pa.int32(), pa.int64()
    user = pa.struct(
        [
            ("uid", s),
            ("name", s),
            ("email_addr", s),
            ("type_id", i32),
            ("type", s),
            ("org", pa.struct([("uid", s)])),
        ]
    )
    session = pa.struct([("uid", s)])
    actor = pa.struct([("user", user), ("session", session)])
    location = pa.struct([("desc", s), ("country", s), ("region", s), ("isp", s)])
    endpoint = pa.struct([("ip", s), ("location", location)])
    named = pa.struct([("uid", s), ("name", s), ("type", s)])
    product = pa.struct([("name", s), ("vendor_name", s), ("feature", pa.struct([("name", s)]))])
    return {
        "activity_id": i32,
        "activity_name": s,
        "category_uid": i32,
        "category_name": s,
        "class_uid": i32,
        "class_name": s,
        "type_uid": i64,
        "type_name": s,
        "severity_id": i32,
        "severity": s,
        "status_id": i32,
        "status": s,
        "time": i64,
        "message": s,
        "metadata": pa.struct(
            [
                ("uid", s),
                ("version", s),
                ("product", product),
                ("log_name", s),
                ("event_code", s),
                ("tenant_uid", s),
                ("profiles", pa.list_(s)),
            ]
        ),
        "unmapped": pa.map_(s, s),
        "actor": actor,
        "user": user,
        "session": session,
        "src_endpoint": endpoint,
        "http_request": pa.struct([("user_agent", s)]),
        "service": pa.struct([("name", s)]),
        "count": i32,
        "start_time": i64,
        "end_time": i64,
        "privileges": pa.list_(s),
        "group": named,
        "entity": named,
        "file": pa.struct([("uid", s), ("name", s), ("type_id", i32), ("type", s)]),
        "finding_info": pa.struct([("uid", s), ("title", s), ("types", pa.list_(s))]),
        "evidences": pa.list_(
            pa.struct([("actor", actor), ("src_endpoint", endpoint), ("data", s)])
        ),
    }


@cache
def schema(cls: str) -> pa.Schema:
    import pyarrow as pa

    types = _types()
    return pa.schema([(name, types[name]) for name in COLUMNS[cls]])


CHUNK = 1_000
"""Events held as dicts before they become an Arrow record batch: a data object's events
are ten times their Arrow size as dicts, so converting as they come keeps the peak to one
object's Arrow columns plus a chunk of dicts per class."""


class ClassObject:
    """One Parquet object of one class's events, filled event by event."""

    def __init__(self, cls: str) -> None:
        self.cls = cls
        self.count = 0
        self._pending: list[Event] = []
        self._batches: list[pa.RecordBatch] = []

    def add(self, event: Event) -> None:
        self._pending.append(event)
        self.count += 1
        if len(self._pending) >= CHUNK:
            self._convert()

    def _convert(self) -> None:
        import pyarrow as pa

        if not self._pending:
            return
        extra = set().union(*(ev.keys() for ev in self._pending)) - set(COLUMNS[self.cls])
        if extra:
            raise ValueError(f"ocsf {self.cls}: no column for {sorted(extra)}")
        self._batches.append(pa.RecordBatch.from_pylist(self._pending, schema=schema(self.cls)))
        self._pending = []

    def body(self) -> bytes:
        """The object, rows sorted by time, then id: the order and the bytes do not depend
        on the order the events came in."""
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.parquet as pq

        self._convert()
        table = pa.Table.from_batches(self._batches, schema=schema(self.cls))
        self._batches = []
        keys = pa.table({"t": table["time"], "u": pc.struct_field(table["metadata"], "uid")})
        order = pc.sort_indices(keys, sort_keys=[("t", "ascending"), ("u", "ascending")])
        out = io.BytesIO()
        pq.write_table(table.take(order), out, compression=COMPRESSION)
        return out.getvalue()


def to_parquet(cls: str, events: list[Event]) -> bytes:
    """One Parquet object of one class's events."""
    obj = ClassObject(cls)
    for event in events:
        obj.add(event)
    return obj.body()
