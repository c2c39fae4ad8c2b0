"""The OCSF mapping's common case in native code: a landed object's lines straight to each
class's Arrow columns, without a Python object per event or per value.

Mapped in Python, an event cost ~34 us (parse 2.7, flatten 4.9, mapping 9.3, the dicts
held and converted to Arrow ~12, sorting and writing 2.3: `docs/benchmarks.md`), four
times the 25 % of ingest's CPU issue 29 allows, and every stage is per-value Python work.
The extension (`_ocsfmap.c`) reads each line exactly as orjson writes it, maps it step
for step as `audit.py` and `logs.py` do, and appends its values to the columns; what
Python decides (an action's family and the fields every event of it shares, an IP
address `ipaddress` reads, the classes' schemas) it asks here once and remembers. Any
line it cannot map exactly (escapes, fractions, dotted or repeated member names, a log
type it does not know) comes back by number for `mapper.to_ocsf`, which stays the
definition: the property tests hold both equal. Where the extension is not built, the
Python mapper maps every line.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from connector.ocsf.event import IPV4, VERSION, event
from connector.ocsf.families import BASE, family
from connector.ocsf.logs import CHANGES
from connector.ocsf.parquet import COMMON, schema

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger(__name__)

CLASSES = (
    "base_event",
    "authentication",
    "account_change",
    "user_access",
    "group_management",
    "file_hosting",
    "entity_management",
    "detection_finding",
)
"""The classes the extension fills (every class the mappers make)."""
INDEX = {name: n for n, name in enumerate(CLASSES)}
SHARED = tuple(c for c in COMMON if c not in ("time", "metadata"))
"""The fields every event shares (`event.event`), in the order the extension takes them."""


@dataclass
class Part:
    """One class's events: a table in `parquet.schema(cls)`, sorted as its objects keep
    them (time, then the later line first), their 1-based line numbers (int32), and
    where each event day's rows are: (day since the epoch, first row, rows)."""

    table: pa.Table
    lines: pa.Array
    days: list[tuple[int, int, int]]


@dataclass
class Mapped:
    parts: dict[str, Part]
    fallback: list[int]
    """The 1-based numbers of the lines left to the Python mapper."""
    lines: list[bytes]
    """Those lines' text (without the newline)."""


def available() -> bool:
    return _mapper() is not None


def map_object(ndjson: bytes) -> Mapped:
    mapper = _mapper()
    assert mapper is not None, "the native OCSF mapper is not built"
    found, left = mapper.map(ndjson)
    parts = {cls: _part(cls, *part) for cls, part in found.items()}
    return Mapped(parts, [n for n, _, _ in left], [ndjson[a:b] for _, a, b in left])


@cache
def _mapper() -> Any:
    try:
        from connector.ocsf import _ocsfmap  # type: ignore[attr-defined]
    except ImportError:
        log.warning("ocsf: the native mapper is not built; every event is mapped in Python")
        return None
    classes = [(cls, list(_items(cls))) for cls in CLASSES]
    return _ocsfmap.Mapper(classes, _shared, _ip, VERSION)


def _shared(kind: str, name: str) -> tuple[Any, ...] | None:
    """What every event of an audit action (`a`; `b` as a Base Event, when its class's
    builder gave up), an integration change (`c`) or an access row (`l`) shares: its
    class's index, then `event.event`'s fields in order."""
    if kind in "ab":
        found = family(name) if kind == "a" else BASE
        if found.cls not in INDEX:
            return None
        cls, status = found.cls, found.status
        activity = (99, name) if found is BASE else found.activity
    elif kind == "c":
        cls, activity, status = "entity_management", CHANGES.get(name, (99, name)), 1
    else:
        cls, activity, status = "authentication", (1, "Logon"), 1
    ev = event(cls, activity, 0, {}, status, 3 if cls == "detection_finding" else 1)
    return (INDEX[cls], *map(ev.get, SHARED))


def _ip(text: str) -> bool:
    """`event.ip_of`'s test, for what the extension's dotted-quad test does not take."""
    if IPV4.fullmatch(text):
        return True
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _items(cls: str) -> Iterator[tuple[str, str]]:
    """The class's columns depth first as (dotted path, kind), as the extension fills them."""
    import pyarrow as pa

    def walk(path: str, t: pa.DataType) -> Iterator[tuple[str, str]]:
        if pa.types.is_struct(t):
            yield path, "struct"
            for field in t:
                yield from walk(f"{path}.{field.name}", field.type)
        elif pa.types.is_map(t):
            yield path, "map"
        elif pa.types.is_list(t) and pa.types.is_struct(t.value_type):
            yield path, "items"  # then the items' fields, a row per item
            for field in t.value_type:
                yield from walk(f"{path}.{field.name}", field.type)
        elif pa.types.is_list(t):
            yield path, "list"
        else:
            yield path, str(t)

    for field in schema(cls):
        yield from walk(field.name, field.type)


def _part(
    cls: str, rows: int, lines: bytes, columns: list[tuple[Any, ...]], days: list[Any]
) -> Part:
    import pyarrow as pa

    given = iter(columns)
    shape = schema(cls)
    arrays = [_array(field.type, rows, given) for field in shape]
    table = pa.Table.from_batches([pa.RecordBatch.from_arrays(arrays, schema=shape)])
    numbers = pa.Array.from_buffers(pa.int32(), rows, [None, pa.py_buffer(lines)])
    return Part(table, numbers, days)


def _array(t: pa.DataType, n: int, given: Iterator[tuple[Any, ...]]) -> pa.Array:
    """One column from the extension's buffers (Arrow's layout: validity bits, offsets,
    data), depth first as `_items` named them."""
    import pyarrow as pa

    valid, nulls, *bufs = next(given)
    validity = None if valid is None else pa.py_buffer(valid)
    data = [pa.py_buffer(b) for b in bufs]
    if pa.types.is_struct(t):
        children = [_array(field.type, n, given) for field in t]
        return pa.Array.from_buffers(t, n, [validity], nulls, children=children)
    if pa.types.is_map(t):
        keys = _strings(data[1], data[2])
        values = _strings(data[3], data[4])
        entries = pa.StructArray.from_arrays([keys, values], fields=[t.key_field, t.item_field])
        return pa.Array.from_buffers(t, n, [validity, data[0]], nulls, children=[entries])
    if pa.types.is_list(t) and pa.types.is_struct(t.value_type):
        total = memoryview(bufs[0]).cast("i")[n]
        fields = [_array(field.type, total, given) for field in t.value_type]
        item = pa.Array.from_buffers(t.value_type, total, [None], 0, children=fields)
        return pa.Array.from_buffers(t, n, [validity, data[0]], nulls, children=[item])
    if pa.types.is_list(t):
        items = _strings(data[1], data[2])
        return pa.Array.from_buffers(t, n, [validity, data[0]], nulls, children=[items])
    return pa.Array.from_buffers(t, n, [validity, *data], nulls)


def _strings(offsets: pa.Buffer, data: pa.Buffer) -> pa.Array:
    import pyarrow as pa

    return pa.Array.from_buffers(pa.string(), offsets.size // 4 - 1, [None, offsets, data], 0)
