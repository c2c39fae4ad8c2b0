"""Derived objects: other outputs made from each landed data object, exactly once.

Some outputs are another view of an object the pipeline already writes (an OCSF Parquet
file per class, a search index beside the object). Keeping them a pure function of one
data object, its key and its NDJSON rows, is what lets them share the data object's
exactly-once protocol instead of needing one of their own:

* `Pipeline._flush` writes them right after their data object, inside the same
  `UnitOfWork.writing` (the data object's write intent covers them, the lease is checked
  before each upload, the commit comes after), from the uncompressed rows the batch has
  anyway, so the normal path never decompresses.
* `UnitOfWork.settle` (crash recovery) calls `Derivations.restorer`'s function for each
  intent whose data object exists: it reads the object back from its sink, derives again
  and uploads whatever derived object is missing. A data object that does not exist has
  no derived objects, so a crash between an object and its derived ones loses and doubles
  nothing.

A derived object's key must be deterministic (from the data object's key, and if need be
its rows) and its body reproducible, so a second derivation overwrites or finds the same
object. Quarantine objects get none. The pipeline sees only this module's `Derivations`:
what a derived output is stays with the output (`connector.ocsf` for one).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from isal import isal_zlib

from connector.ingest.batch import QUARANTINE
from connector.sinks.base import Sink
from connector.state import UnitOfWork


@dataclass(frozen=True)
class DerivedObject:
    """One object to write, and what it holds per label for metrics (e.g. events per
    OCSF class), which the pipeline adds up without knowing what the labels mean."""

    sink: Sink
    key: str
    body: bytes
    counts: Mapping[str, int] = field(default_factory=dict)


class DerivedOutput(Protocol):
    """A pure function of one landed data object: the same key and rows give the same
    derived objects (keys and bodies)."""

    name: str

    def derive(self, key: str, ndjson: bytes) -> Iterable[DerivedObject]:
        """`ndjson` is the data object's rows, uncompressed, one JSON line each."""
        ...


Restore = Callable[[str], None]


class Derivations:
    """The derived outputs a pipeline writes beside its data objects (none by default)."""

    def __init__(self, outputs: Sequence[DerivedOutput] = ()) -> None:
        self.outputs = tuple(outputs)

    def __bool__(self) -> bool:
        return bool(self.outputs)

    def wants(self, key: str) -> bool:
        """Whether a data object has derived objects at all: quarantine objects do not."""
        return bool(self.outputs) and f"/{QUARANTINE}/" not in f"/{key}"

    def derive(self, key: str, ndjson: bytes) -> Iterable[DerivedObject]:
        if self.wants(key):
            for output in self.outputs:
                yield from output.derive(key, ndjson)

    def write(self, unit: UnitOfWork, key: str, ndjson: bytes | None) -> dict[str, int]:
        """Upload every derived object of one data object just written, each after a
        lease check; what they hold, per label."""
        counts: dict[str, int] = {}
        if ndjson is None or not self.wants(key):
            return counts
        for obj in self.derive(key, ndjson):
            unit.check_lease()
            obj.sink.put(obj.key, obj.body, unit.check_lease)
            for label, n in obj.counts.items():
                counts[label] = counts.get(label, 0) + n
        return counts

    def restorer(self, sink: Sink, unit: UnitOfWork) -> Restore | None:
        """For `UnitOfWork.settle`: the function that makes whatever derived object of an
        existing data object is missing, reading the data object back from `sink`."""
        if not self.outputs:
            return None

        def restore(key: str) -> None:
            if not self.wants(key):
                return
            ndjson = isal_zlib.decompress(sink.get(key), 31)
            for obj in self.derive(key, ndjson):
                if not obj.sink.exists(obj.key, len(obj.body)):
                    unit.check_lease()
                    obj.sink.put(obj.key, obj.body, unit.check_lease)

        return restore
