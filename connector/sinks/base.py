"""The sink interface the pipeline writes through.

`put` must be atomic (the object exists whole or not at all) and idempotent for the same
key, and `exists` must be truthful: together they let a write interrupted by a crash be
resolved without losing or doubling a batch. `get` reads an object back, so recovery can
remake the derived objects (`connector.ingest.derived`) of one that landed.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

from connector.config.settings import OutputConfig


class SinkError(Exception):
    """The sink could not store an object; the batch stays uncommitted and is retried."""


class Sink(ABC):
    kind: ClassVar[str]

    @classmethod
    @abstractmethod
    def from_config(cls, cfg: OutputConfig) -> Sink: ...

    @abstractmethod
    def put(self, key: str, body: bytes) -> None: ...

    @abstractmethod
    def exists(self, key: str, size: int | None = None) -> bool:
        """Whether the object is there, whole: with `size`, a shorter or longer one is not."""

    def get(self, key: str) -> bytes:
        """The object's body as `put` stored it; `SinkError` when it cannot be read."""
        raise SinkError(f"{self.kind}: cannot read {key} back")

    def check(self) -> str:
        """A cheap probe for `slack-connector check`."""
        return "ok"

    def close(self) -> None:
        return None


REGISTRY: dict[str, type[Sink]] = {}


def register(cls: type[Sink]) -> type[Sink]:
    REGISTRY[cls.kind] = cls
    return cls


def build(cfg: OutputConfig) -> Sink:
    return REGISTRY[cfg.type].from_config(cfg)
