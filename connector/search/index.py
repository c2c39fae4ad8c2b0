"""The search index of one landed object: a small Parquet file beside it.

One index per data object, a pure function of the object's lines, so it can be written
right after the object under the same unit of work and rebuilt from the object alone
(`connector.ingest.derived`, `slack-connector index`). Its key mirrors the object's under
`_index/`: `slack/Slack.AuditLogs/year=.../x.json.gz` is indexed by
`slack/_index/Slack.AuditLogs/year=.../x.parquet`, out of the folders a SIEM's table
reads.

Three kinds of rows in one table, sorted by key so DuckDB skips row groups by their
min/max statistics:

- a *posting* per (key, line): `key` (`indicators.keys`), `line` (0-based line number in the
  object) and `time` (the event time);
- a *stat* per key: how many rows hold it, first and last time;
- a *facet* per line (`key` null): `time`, `actor`, `action` and `ips`, what the summary
  counts by (`search.summary`), so counts, first and last seen, top actors, actions and IPs
  are SQL over the index and only the rows shown are read from the data.

Why Parquet per object: DuckDB reads it locally and from S3 with the key column's Bloom
filter and statistics, and one file per object keeps it a pure function of that object
(written and remade under the object's unit of work; a per-day file would be rewritten
by every poll). Measured on 1M audit rows (`python -m bench.search`, docs/benchmarks.md):
the first screen of any indicator costs about 1.2 CPU s warm, a quarter of DuckDB's own
scan; but the index is 75 % of the data's bytes (the values it keys are most of a row's
entropy: a user's id, email and IP recur across objects, not within one) and its Python
build costs several times the rest of landing. See the closing note of issue 24.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from connector.indicators.keys import row_keys
from connector.ingest.derived import DerivedObject
from connector.search import render
from connector.search.summary import ACTION
from connector.sinks.base import Sink

INDEX = "_index"
SUFFIX = ".parquet"
DATA_SUFFIX = ".json.gz"
VERSION = "1"
"""Written in the file's metadata, so a later format can tell the indexes apart (search
does not read it yet)."""


@functools.cache
def schema() -> Any:
    """The Parquet schema; pyarrow is imported only to write (a search never needs it).

    `time` is the event time in microseconds since the epoch (null when a row has none
    that parses: such a row is in no window). A *stat* row per key (`line` null) holds
    its `count` of rows with a time and their first (`time`) and `last` time, so a whole
    object's count needs no join."""
    import pyarrow as pa

    return pa.schema(
        [
            ("key", pa.string()),
            ("line", pa.int32()),
            ("count", pa.int32()),
            ("time", pa.int64()),
            ("last", pa.int64()),
            ("log_type", pa.string()),
            ("source", pa.string()),
            ("actor", pa.string()),
            ("action", pa.string()),
            ("ips", pa.list_(pa.string())),
        ],
        metadata={"slack_connector_index": VERSION},
    )


ROW_GROUP = 1 << 20


def index_key(data_key: str, prefix: str) -> str | None:
    """Where the index of a data object lives, or None for an object that has none (a
    quarantine object, or one outside the output prefix)."""
    head = f"{prefix}/" if prefix else ""
    if not data_key.startswith(head) or not data_key.endswith(DATA_SUFFIX):
        return None
    rest = data_key[len(head) :]
    if rest.startswith(("_quarantine/", f"{INDEX}/")):
        return None
    return f"{head}{INDEX}/{rest[: -len(DATA_SUFFIX)]}{SUFFIX}"


def data_key(index: str, prefix: str) -> str:
    """The data object an index key belongs to (the inverse of `index_key`)."""
    head = f"{prefix}/" if prefix else ""
    rest = index[len(head) :].removeprefix(f"{INDEX}/")
    return f"{head}{rest[: -len(SUFFIX)]}{DATA_SUFFIX}"


class SearchIndex:
    """The index as a derived output (`connector.ingest.derived`): written beside each
    data object under the same unit of work, and remade by recovery when a crash fell
    between them."""

    name = "index"

    def __init__(self, sink: Sink, prefix: str) -> None:
        self.sink = sink
        self.prefix = prefix

    def derive(self, key: str, ndjson: bytes) -> Iterable[DerivedObject]:
        where = index_key(key, self.prefix)
        if where is None:
            return
        lines = ndjson.splitlines()
        yield DerivedObject(self.sink, where, build(lines), {"indexed_rows": len(lines)})


def build(lines: Iterable[bytes]) -> bytes:
    """The index of an object whose rows are `lines` (JSON objects, in object order)."""
    postings: list[tuple[str, int]] = []
    facets: dict[str, list[Any]] = {name: [] for name in FACETS}
    for number, line in enumerate(lines):
        row = orjson.loads(line)
        for name, value in facet_values(row).items():
            facets[name].append(value)
        postings.extend((key, number) for key in row_keys(row))
    postings.sort()
    times = facets["time"]
    stats: dict[str, list[int]] = {}
    for key, number in postings:
        when = times[number]
        if when is None:
            continue
        stat = stats.get(key)
        if stat is None:
            stats[key] = [1, when, when]
        else:
            stat[0] += 1
            stat[1] = min(stat[1], when)
            stat[2] = max(stat[2], when)
    n, p, k = len(times), len(postings), len(stats)
    columns: dict[str, list[Any]] = {
        "key": [x[0] for x in postings] + list(stats) + [None] * n,
        "line": [x[1] for x in postings] + [None] * k + list(range(n)),
        "count": [None] * p + [v[0] for v in stats.values()] + [None] * n,
        "last": [None] * p + [v[2] for v in stats.values()] + [None] * n,
    }
    columns["time"] = [None] * p + [v[1] for v in stats.values()] + times
    columns.update({name: [None] * (p + k) + facets[name] for name in FACETS if name != "time"})
    import pyarrow as pa
    import pyarrow.parquet as pq

    sink = io.BytesIO()
    pq.write_table(
        pa.table(columns, schema=schema()),
        sink,
        compression="zstd",
        row_group_size=ROW_GROUP,
        bloom_filter_options={"key": {"fpp": 0.01}},
    )
    return sink.getvalue()


FACETS = ("time", "log_type", "source", "actor", "action", "ips")


def facet_values(row: dict[str, Any]) -> dict[str, Any]:
    """What `summary.Summary.add` counts a row by, as the index stores it."""
    ctx = render.context(row)
    action = ACTION.get(ctx["log_type"])
    addresses = row.get("p_any_ip_addresses")
    return {
        "time": micros(row.get("p_event_time")),
        "log_type": ctx["log_type"],
        "source": ctx["source"],
        "actor": ctx["who"],
        "action": action(row) if action else "",
        "ips": [str(a) for a in addresses] if isinstance(addresses, list) else [],
    }


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICRO = timedelta(microseconds=1)


def micros(value: Any) -> int | None:
    """An event time as integer microseconds (exact, no float), or None."""
    try:
        return (datetime.fromisoformat(str(value)).astimezone(UTC) - EPOCH) // MICRO
    except ValueError:
        return None


def rfc3339(us: int) -> str:
    """Microseconds back to the event time as `clock.rfc3339` writes it."""
    when = EPOCH + us * MICRO
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ" if us % 1_000_000 else "%Y-%m-%dT%H:%M:%SZ")
