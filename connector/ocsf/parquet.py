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
from collections.abc import Iterator
from functools import cache
from typing import TYPE_CHECKING, Any

from connector.ocsf.event import Event

if TYPE_CHECKING:
    import pyarrow as pa

VARIED = {
    *("metadata.uid", "time", "start_time", "end_time", "src_endpoint.ip", "session.uid"),
    *("actor.user.uid", "actor.user.name", "actor.user.email_addr", "actor.session.uid"),
    *("user.uid", "user.name", "user.email_addr", "http_request.user_agent"),
    *("file.uid", "file.name", "entity.uid", "entity.name", "group.uid", "group.name"),
    *("privileges.list.element", "finding_info.uid", "finding_info.title"),
    *("unmapped.key_value.key", "unmapped.key_value.value"),
}
"""Columns (Parquet paths; and all of `evidences`) whose values differ from row to row:
zstd without dictionary pages. Every other column (the class, activity, type, severity,
status, product, log name, event code, org, tenant, the fields a class rarely fills) has
a handful of values per object: dictionary pages, not compressed. Chosen by measurement
(10,000 audit events of the benchmark's mix, one object per class and day): zstd is read
by Athena (engine 3), Glue, DuckDB, Spark and PyArrow and is half Snappy's size; ids are
unique and zstd finds the repeated strings anyway, so dictionary pages only add bytes
there; statistics only on `time` (what a reader prunes row groups by). Against pyarrow's
defaults: 69 against 81 B/event and the write 3.1 against 4.9 us/event. Compressing only
these columns saves a zstd context per other column and object (creating them was 6 % of
the OCSF output's CPU, and 15 % of an object's fixed cost of ~1.1 ms): the write 2.9 ->
2.7 us and 74.8 -> 72.3 B/event."""


@cache
def _writer(cls: str) -> dict[str, Any]:
    """The writer's settings for one class's columns (Parquet paths, from an empty
    object of its schema)."""
    import pyarrow.parquet as pq

    empty = io.BytesIO()
    pq.write_table(schema(cls).empty_table(), empty)
    paths = [c.path for c in pq.ParquetFile(io.BytesIO(empty.getvalue())).schema]
    varied = [p for p in paths if p in VARIED or p.startswith("evidences.")]
    return {
        "compression": {p: "zstd" if p in varied else "none" for p in paths},
        "use_dictionary": [p for p in paths if p not in varied],
        "write_statistics": ["time"],
    }


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
def _allowed(cls: str) -> frozenset[str]:
    return frozenset(COLUMNS[cls])


@cache
def schema(cls: str) -> pa.Schema:
    import pyarrow as pa

    types = _types()
    return pa.schema([(name, types[name]) for name in COLUMNS[cls]])


CHUNK = 2_000
"""Rows mapped in Python before their events become Arrow record batches. As dicts an event is ten
times its Arrow size, so the output converts every class's pending events each `CHUNK`
rows (`ClassObject.flush`): the peak is one object's Arrow columns plus `CHUNK` events as
dicts, however a data object's rows spread over classes and days (converting per class
only, most classes of a 10,000-row object never filled a chunk and every event stayed a
dict). On a 10,000-row object of the benchmark's mix the peak over the warm process was
+47 MB at 2,000, +48 MB at 500 and +80 MB at 10,000; fewer rows cost more conversion
calls (1,000 or 500 rows: 1-3 us/event more CPU than 2,000)."""


DAY_MS = 86_400_000


class ClassObject:
    """One class's events of one data object, filled event by event (the Python mapper)
    or table by table (`native`), written as one Parquet object per event day."""

    def __init__(self, cls: str) -> None:
        self.cls = cls
        self.count = 0
        self._columns = COLUMNS[cls]
        self._allowed = _allowed(cls)
        self._pending: list[tuple[Any, ...]] = []
        """Each event added since the last conversion, as its values in column order:
        taken apart while it is fresh, one pass per event instead of one per column over
        every held event (what `RecordBatch.from_pylist` does)."""
        self._pending_lines: list[int] = []
        self._batches: list[pa.RecordBatch] = []
        self._lines: list[pa.Array] = []
        """Each event's line in the data object: the second sort key, so the order (and
        the bytes) do not depend on which mapper made which event."""
        self._sorted: tuple[pa.Table, pa.Array, list[tuple[int, int, int]]] | None = None

    def add(self, event: Event, line: int | None = None) -> None:
        if not event.keys() <= self._allowed:
            raise ValueError(
                f"ocsf {self.cls}: no column for {sorted(event.keys() - self._allowed)}"
            )
        self._pending.append(tuple(map(event.get, self._columns)))
        self._pending_lines.append(self.count if line is None else line)
        self.count += 1

    def add_sorted(
        self, table: pa.Table, lines: pa.Array, days: list[tuple[int, int, int]]
    ) -> None:
        """Events already in the objects' order, with each event day's rows (the
        native mapper's): written as they are unless Python events join them."""
        self._sorted = (table, lines, days)
        self.count += table.num_rows

    def flush(self) -> None:
        """Convert the events added so far to an Arrow record batch, releasing the dicts."""
        import pyarrow as pa

        if not self._pending:
            return
        shape = schema(self.cls)
        columns = zip(*self._pending, strict=True)
        arrays = [pa.array(values, type=t) for values, t in zip(columns, shape.types, strict=True)]
        self._batches.append(pa.RecordBatch.from_arrays(arrays, schema=shape))
        self._lines.append(pa.array(self._pending_lines, pa.int32()))
        self._pending, self._pending_lines = [], []

    def bodies(self) -> Iterator[tuple[int, int, bytes]]:
        """(event day, events, object) per event day, rows sorted by time, then the later
        line first: Slack gives its logs newest first, so within one time that is the
        order they happened in, and the native mapper's columns (made last line first)
        need no sorting."""
        import numpy as np
        import pyarrow as pa

        self.flush()
        if self._sorted is not None:
            table, lines, spans = self._sorted
            self._sorted = None
            if not self._batches:
                for day, first, rows in spans:
                    yield day, rows, _write(self.cls, table.slice(first, rows))
                return
            self._batches.extend(table.to_batches())
            self._lines.append(lines)
        table = pa.Table.from_batches(self._batches, schema=schema(self.cls))
        lines = pa.chunked_array(self._lines, pa.int32())
        self._batches, self._lines = [], []
        days = np.floor_divide(table["time"].to_numpy(), DAY_MS)
        distinct = np.unique(days).tolist()
        if len(distinct) == 1:
            yield distinct[0], table.num_rows, _write(self.cls, _sort(table, lines))
            return
        for day in distinct:
            keep = pa.array(days == day)
            part = table.filter(keep)
            yield day, part.num_rows, _write(self.cls, _sort(part, lines.filter(keep)))

    def body(self) -> bytes:
        """The object, when its events are of one day."""
        ((_, _, body),) = self.bodies()
        return body


def _sort(table: pa.Table, lines: pa.ChunkedArray) -> pa.Table:
    import pyarrow as pa
    import pyarrow.compute as pc

    keys = pa.table({"t": table["time"], "n": lines})
    order = pc.sort_indices(keys, sort_keys=[("t", "ascending"), ("n", "descending")])
    return table.take(order)


def _write(cls: str, table: pa.Table) -> bytes:
    import pyarrow.parquet as pq

    out = io.BytesIO()
    pq.write_table(table, out, **_writer(cls))
    return out.getvalue()


def to_parquet(cls: str, events: list[Event]) -> bytes:
    """One Parquet object of one class's events of one day."""
    obj = ClassObject(cls)
    for event in events:
        obj.add(event)
    return obj.body()
