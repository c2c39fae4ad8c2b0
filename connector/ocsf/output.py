"""The OCSF output: a derived output (`connector.ingest.derived`) that writes each landed
object's rows as OCSF events, one Parquet object per class and event day, in Amazon
Security Lake's custom-source layout:

    {prefix/}ext/{custom source name}/region={region}/accountId={account id}/
        eventDay={YYYYMMDD}/{object}.parquet

`{object}` is the data object's file name, so the key is a function of the data
object's key and its rows (their classes and days): a crash's recovery derives the
same keys and bytes again, and the lake never holds an event twice.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime

import orjson

from connector.config.ocsf import OcsfConfig
from connector.config.settings import OutputConfig
from connector.ingest.derived import DerivedObject
from connector.ocsf import native
from connector.ocsf.event import CLASSES
from connector.ocsf.mapper import to_ocsf
from connector.ocsf.parquet import CHUNK, ClassObject
from connector.sinks.base import Sink
from connector.sinks.local import LocalSink
from connector.sinks.s3 import S3Sink

PARQUET = "application/vnd.apache.parquet"
UID_CLASS = {c.uid: c.name for c in CLASSES.values()}


class OcsfOutput:
    name = "ocsf"

    def __init__(self, cfg: OcsfConfig, sink: Sink, native: bool | None = None) -> None:
        """`native`: map with the extension (`connector.ocsf.native`) where it is built
        (None), or in Python only (False)."""
        self.cfg = cfg
        self.sink = sink
        self.native = native

    def derive(self, key: str, ndjson: bytes) -> Iterable[DerivedObject]:
        objects: dict[str, ClassObject] = {}

        def of(cls: str) -> ClassObject:
            obj = objects.get(cls)
            if obj is None:
                obj = objects[cls] = ClassObject(cls)
            return obj

        rest: Iterator[tuple[int, bytes]] = enumerate(io.BytesIO(ndjson), 1)
        if self.native is not False and native.available():
            rest = _native(ndjson, of)
        for done, (n, line) in enumerate(rest, 1):
            ev = to_ocsf(orjson.loads(line))
            of(UID_CLASS[ev["class_uid"]]).add(ev, n)
            if done % CHUNK == 0:
                for pending in objects.values():
                    pending.flush()
        stem = key.rsplit("/", 1)[-1].removesuffix(".json.gz")
        for cls in sorted(objects, key=lambda c: CLASSES[c].uid):
            obj = objects.pop(cls)  # each class's columns freed once written
            for days, count, body in obj.bodies():
                day = datetime.fromtimestamp(days * 86_400, UTC).strftime("%Y%m%d")
                yield DerivedObject(
                    self.sink, self.key(obj.cls, day, stem), body, {f"ocsf:{obj.cls}": count}
                )

    def key(self, cls: str, day: str, stem: str) -> str:
        c = self.cfg
        parts = (
            c.prefix.strip("/"),
            "ext",
            c.source_name(cls),
            f"region={c.region}",
            f"accountId={c.account_id}",
            f"eventDay={day}",
            f"{stem}.parquet",
        )
        return "/".join(p for p in parts if p)


def _native(ndjson: bytes, of: Callable[[str], ClassObject]) -> Iterator[tuple[int, bytes]]:
    """The native mapper's events given to their class objects; the lines it left to
    Python, numbered."""
    mapped = native.map_object(ndjson)
    for cls, part in mapped.parts.items():
        of(cls).add_sorted(part.table, part.lines, part.days)
    return zip(mapped.fallback, mapped.lines, strict=True)


def outputs(cfg: OcsfConfig) -> Iterator[OcsfOutput]:
    """The OCSF output `[ocsf]` asks for, if any (for `Derivations`)."""
    if not cfg.enabled:
        return
    if cfg.output == "local":
        yield OcsfOutput(cfg, LocalSink(cfg.path), native=cfg.mapper == "native")
        return
    lake = OutputConfig(
        type="s3",
        bucket=cfg.bucket,
        region=cfg.region,
        endpoint_url=cfg.endpoint_url,
        max_attempts=cfg.max_attempts,
        connect_timeout_seconds=cfg.connect_timeout_seconds,
        read_timeout_seconds=cfg.read_timeout_seconds,
    )
    sink = S3Sink.from_config(lake)
    assert isinstance(sink, S3Sink)
    sink.content_type = PARQUET
    yield OcsfOutput(cfg, sink, native=cfg.mapper == "native")
