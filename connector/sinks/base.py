"""The sink interface the pipeline writes through.

`put` must be atomic (the object exists whole or not at all) and idempotent for the same
key, and `exists` must be truthful: together they let a write interrupted by a crash be
resolved without losing or doubling a batch. `settle` is how recovery asks: a sink that
can fence (S3 with conditional writes) also makes sure an upload of an object settled as
never written can no longer land, whoever sends it late. `get` reads an object back, so
recovery can remake the derived objects (`connector.ingest.derived`) of one that landed.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import ClassVar, NamedTuple

from connector.config.settings import OutputConfig


class SinkError(Exception):
    """The sink could not store an object; the batch stays uncommitted and is retried."""


class Probe(NamedTuple):
    """What `check` found by writing: the line to print, and whether the sink refuses an
    upload that recovery settled as never written (what several replicas rely on); None
    for a sink one host writes (a directory, stdout), which has no such fence to offer."""

    detail: str
    fences: bool | None = None


class Sink(ABC):
    kind: ClassVar[str]

    @classmethod
    @abstractmethod
    def from_config(cls, cfg: OutputConfig) -> Sink: ...

    @abstractmethod
    def put(self, key: str, body: bytes, check_lease: Callable[[], None] | None = None) -> None:
        """Store `body` whole at `key`. `check_lease` raises when this process no longer
        holds the stream; a fencing sink calls it before it replaces an object that
        recovery settled as never written."""

    @abstractmethod
    def exists(self, key: str, size: int | None = None) -> bool:
        """Whether the object is there, whole: with `size`, a shorter or longer one is not."""

    def settle(self, key: str, size: int | None) -> bool:
        """Recovery's question for a write a crash (or a lost lease) interrupted: whether
        the object landed whole. Only a sink that one process writes does not fence."""
        return self.exists(key, size)

    def get(self, key: str) -> bytes:
        """The object's body as `put` stored it; `SinkError` when it cannot be read."""
        raise SinkError(f"{self.kind}: cannot read {key} back")

    def delete(self, key: str) -> None:
        """Remove an object nothing reads any more (`search.gc`'s index files; never a
        data object); one already gone is no error. `SinkError` when it cannot."""
        raise SinkError(f"{self.kind}: cannot delete {key}")

    def check(self) -> str:
        """A cheap probe for readiness."""
        return "ok"

    def probe(self) -> Probe:
        """`slack-connector check`'s probe, which may write; by default `check`'s."""
        return Probe(self.check())

    def close(self) -> None:
        return None


REGISTRY: dict[str, type[Sink]] = {}


def register(cls: type[Sink]) -> type[Sink]:
    REGISTRY[cls.kind] = cls
    return cls


def build(cfg: OutputConfig) -> Sink:
    return REGISTRY[cfg.type].from_config(cfg)
