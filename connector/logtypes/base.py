"""What a log type is: a model, a dedupe key, an event time and a way to page through Slack.

A new log type is one module in this package that subclasses `LogType` and registers
itself in `REGISTRY`; the pipeline, scheduler and sinks never name a log type. The stream
a log type pages with, and the checkpoint that stream keeps, are on the contract of
`connector.stream` (re-exported here for the modules that name a log type anyway).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from types import UnionType
from typing import (
    Any,
    ClassVar,
    NotRequired,
    Required,
    Union,
    get_args,
    get_origin,
)

from pydantic import BaseModel, ConfigDict, TypeAdapter
from typing_extensions import TypedDict

from connector.indicators.extract import Indicators, Paths, compile_indicators
from connector.slack.client import SlackClient
from connector.stream.checkpoint import CheckpointError
from connector.stream.contract import Page, PollContext, PollStopped, Raw, Stored, Stream

__all__ = [
    "REGISTRY",
    "LogType",
    "Page",
    "PollContext",
    "PollStopped",
    "Raw",
    "Record",
    "Stream",
    "Validated",
    "model_of",
    "register",
]


class Record(BaseModel):
    """Base for every model: unknown fields are kept, because Slack adds fields all the time.

    The models declare each schema (tests hold them to `schemas/*.yml`); records are
    validated against a TypedDict twin built from them, which checks the same rules
    without building model instances: half the cost per event. The twin ignores
    unknown fields instead of copying them: what is written is the raw record, so they
    are kept all the same, and not copying them saves another third.
    """

    model_config = ConfigDict(extra="allow", frozen=True)


Validated = Mapping[str, Any]
"""A record that passed validation, as the TypedDict validator returns it."""


class LogType(ABC):
    """One Slack log type: a declaration of its model, identity and paging `stream`."""

    name: ClassVar[str]
    log_type: ClassVar[str]
    model: ClassVar[type[Record]]
    event_time_field: ClassVar[str]
    indicator_paths: ClassVar[Paths]
    validate_record: ClassVar[Callable[[Any], Any]]
    stream: ClassVar[Stream]
    partition: ClassVar[str] = "hour"
    """Output partition granularity ("hour" or "day", `connector.ingest.partition`); the
    `[output] partitions` table overrides it per log type name."""
    time_keyed: ClassVar[bool] = False
    """True when a record's event time never changes (audit entries): dedupe keys then
    start with it, so they are stored in time order and forgotten by time range."""
    scopes: ClassVar[tuple[str, ...]] = ()
    """The user token scopes Slack requires to poll this log type."""
    enterprise_install: ClassVar[bool] = False
    """True when the token must come from an organization-level (Enterprise Grid) install."""
    per_workspace: ClassVar[bool] = False
    """True for a Web API log of one workspace, which an org-level token reads per `team_id`."""
    quiet_after: ClassVar[int] = 86_400
    """Default seconds without new events before the no-events alert fires."""
    add_indicators: ClassVar[Indicators]
    """Call on the class: `type(lt).add_indicators(record, row)` sets the `p_any_*` fields."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "model" in cls.__dict__:
            cls.indicator_paths = _indicator_paths(cls.model)
            cls.validate_record = TypeAdapter(_typed_dict(cls.model)).validator.validate_python
            cls.add_indicators = compile_indicators(cls.indicator_paths)

    @abstractmethod
    def dedupe_key(self, raw: Raw) -> str:
        """The natural identity of a record: equal keys mean the same event."""

    def pages(self, ctx: PollContext) -> Iterator[Page]:
        """Pages as read; each page's checkpoint holds once its records (and those before) land."""
        return self.stream.pages(ctx)

    def probe(self, client: SlackClient) -> str:
        """One cheap authenticated call for `slack-connector check`; returns a short summary."""
        return self.stream.probe(client)

    @property
    def checkpoint_key(self) -> str:
        """Where the checkpoint lives; dedupe keys always live under `name`."""
        return self.name

    def warning(self, stored: Stored | None) -> str | None:
        """A problem the stored checkpoint records that on-call must act on (`check`,
        `state show`); None when there is none. A checkpoint this release cannot read is
        one: every poll of the stream fails until it is fixed."""
        try:
            checkpoint = self.stream.checkpoint.load(stored)
        except CheckpointError as exc:
            return str(exc)
        return checkpoint.warning() if checkpoint else None


def model_of(annotation: Any) -> type[Record] | None:
    """The Record class inside `X` or `X | None`, if the annotation names one."""
    if get_origin(annotation) in (Union, UnionType):
        for arg in get_args(annotation):
            found = model_of(arg)
            if found is not None:
                return found
        return None
    if isinstance(annotation, type) and issubclass(annotation, Record):
        return annotation
    return None


def _typed_dict(model: type[Record]) -> Any:
    """The TypedDict with the model's fields, requiredness and types; unknown fields pass."""
    fields: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        annotation = info.rebuild_annotation()
        nested = model_of(info.annotation)
        if nested is not None:
            annotation = _typed_dict(nested) if info.is_required() else _typed_dict(nested) | None
        fields[name] = Required[annotation] if info.is_required() else NotRequired[annotation]
    typed = TypedDict(f"{model.__name__}Dict", fields)  # type: ignore[misc]
    typed.__pydantic_config__ = ConfigDict(extra="ignore")  # type: ignore[attr-defined]
    return typed


def _indicator_paths(model: type[Record], prefix: tuple[str, ...] = ()) -> Paths:
    paths: Paths = {}
    for name, info in model.model_fields.items():
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        kinds = extra.get("indicators")
        for kind in kinds if isinstance(kinds, list) else []:
            paths.setdefault(str(kind), []).append((*prefix, name))
        nested = model_of(info.annotation)
        if nested is not None:
            for kind, more in _indicator_paths(nested, (*prefix, name)).items():
                paths.setdefault(kind, []).extend(more)
    return paths


REGISTRY: dict[str, type[LogType]] = {}


def register(cls: type[LogType]) -> type[LogType]:
    REGISTRY[cls.name] = cls
    return cls
