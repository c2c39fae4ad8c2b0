"""A stream's checkpoint: one typed, versioned, frozen model per stream, owned by the stream.

A state store keeps a checkpoint as an opaque JSON object under (source id, checkpoint
key); this module is the one place that object is written (`Checkpoint.dump`) and read
(`Checkpoint.load`). Each stream declares its model (a subclass with its fields and a
`kind`, the checkpoint key it is stored under) and reads its own state through it;
everything else (`state show`, `check`, `backfill`, the pipeline's prune) asks the model
through accessors (`warning`, `prune_before`, `shown`), never by key.

Versions: the stored object carries `version`; the previous release stored none (version
0). `load` upgrades an older object through the model's `upgrade` and refuses a newer one
(`CheckpointError`: a rolled-back daemon must not misread and overwrite it). Field names
that are the stored names of an earlier release keep them as aliases, so the stored form
only grows.

Identity: a stream is (source id, checkpoint key), the key being the log type's name
(`audit`, or `audit:backfill` for a backfill's own progress). An Enterprise Grid
workspace's stream carries the workspace in its source part (`acme@T0123`), so it keeps
its own checkpoint of the same model under the same key, and everything else keyed by
(source id, log type) follows. `checkpoint_type` still finds a model by the part of a key
before the first separator.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from connector import clock

VERSION = "version"
KINDS: dict[str, type[Checkpoint]] = {}
"""Every stream's checkpoint model by `kind`, for readers that hold only a stored key."""
SEPARATOR = re.compile(r"[@/]")


class CheckpointError(ValueError):
    """A stored checkpoint this release cannot read: newer than it, or not its model's
    shape. Never answered by starting over, which would re-land or skip data."""


class Part(BaseModel):
    """A frozen piece of a checkpoint: stored under its aliases, unknown keys ignored."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)


def stored_as(name: str) -> Any:
    """For `Annotated`: a field whose stored name (an earlier release's) differs."""
    return Field(validation_alias=name, serialization_alias=name)


class Checkpoint(Part):
    kind: ClassVar[str] = ""
    version: ClassVar[int] = 1
    time_fields: ClassVar[frozenset[str]] = frozenset()
    """Fields (at any depth, by stored name) holding unix seconds, shown as RFC 3339."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("kind"):
            KINDS[cls.kind] = cls

    @classmethod
    def upgrade(cls, stored: dict[str, Any], version: int) -> dict[str, Any]:
        """The stored object of an older `version` in this version's shape."""
        return stored

    @classmethod
    def load(cls, stored: Mapping[str, Any] | None) -> Self | None:
        """The model of what a state store holds; None when nothing is stored yet."""
        if not stored:
            return None
        data = dict(stored)
        version = data.pop(VERSION, 0)
        if not isinstance(version, int) or version > cls.version:
            raise CheckpointError(
                f"{cls.kind or cls.__name__} checkpoint version {version!r} is newer than this "
                f"release reads ({cls.version}); upgrade the connector"
            )
        if version < cls.version:
            data = cls.upgrade(data, version)
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise CheckpointError(
                f"{cls.kind or cls.__name__} checkpoint does not load: {exc.errors()[:1]}"
            ) from None

    def dump(self) -> dict[str, Any]:
        """The stored form: fields under their stored names, None left out, and `version`."""
        return {
            **self.model_dump(mode="json", by_alias=True, exclude_none=True),
            VERSION: self.version,
        }

    def prune_before(self) -> int | None:
        """Seen keys with an event time before this can be forgotten; None keeps them all."""
        return None

    def warning(self) -> str | None:
        """A problem this checkpoint records that on-call must act on; None when none."""
        return None

    def shown(self) -> dict[str, Any]:
        """The stored form for `state show`, its time fields as RFC 3339 UTC."""
        readable: dict[str, Any] = _readable(self.dump(), self.time_fields)
        return readable


def checkpoint_type(key: str) -> type[Checkpoint] | None:
    """The model a checkpoint stored under `key` loads with; None for an unknown key."""
    return KINDS.get(key) or KINDS.get(SEPARATOR.split(key, maxsplit=1)[0])


def shown(key: str, stored: Mapping[str, Any] | None) -> Any:
    """A stored checkpoint as `state show` prints it; an unknown or unreadable one as stored."""
    model = checkpoint_type(key)
    try:
        loaded = model.load(stored) if model else None
    except CheckpointError:
        loaded = None
    return loaded.shown() if loaded else stored


def _readable(value: Any, times: frozenset[str], key: str = "") -> Any:
    if isinstance(value, dict):
        return {k: _readable(v, times, k) for k, v in value.items()}
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    if numeric and key in times and value >= 0:
        return clock.rfc3339(value)
    return value
