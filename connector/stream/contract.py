"""What a stream is: pages of raw records, each with the checkpoint that holds once written.

A stream owns its checkpoint (`connector.stream.checkpoint`): it reads the stored form
from `PollContext.checkpoint` through its own model, and every `Page` carries the typed
model that is true once that page's records (and those before it) are in the sink. Who
commits it (the pipeline's unit of work) never looks inside.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from connector.slack.client import SlackClient

if TYPE_CHECKING:
    from connector.stream.checkpoint import Checkpoint

Raw = dict[str, Any]
Stored = dict[str, Any]
"""A checkpoint as a state store keeps it: JSON, opaque to everything but its stream."""


@dataclass
class Page:
    """Raw records from one Slack response, and the checkpoint that is true once they are written.

    `checkpoint` is None when the page alone does not move the checkpoint.
    """

    records: list[Raw]
    checkpoint: Checkpoint | None = None


@dataclass
class PollContext:
    """Everything a poller needs for one poll of one source and log type.

    `checkpoint` is the stored form the stream's own checkpoint model loads."""

    source_id: str
    client: SlackClient
    checkpoint: Stored | None
    now: int
    first_run_lookback: int
    late_overlap: int
    page_size: int | None = None
    stop: threading.Event = field(default_factory=threading.Event)


class PollStopped(Exception):
    """Raised inside a poll when the daemon is shutting down; nothing uncommitted is lost."""


class Stream(Protocol):
    """How a log type pages through Slack (built from `connector.paging` parts), and the
    checkpoint model it writes."""

    @property
    def checkpoint(self) -> type[Checkpoint]: ...

    def pages(self, ctx: PollContext) -> Iterator[Page]: ...

    def probe(self, client: SlackClient) -> str: ...
