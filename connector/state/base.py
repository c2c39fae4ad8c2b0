"""What every state store keeps and promises, whichever backend holds it.

The pipeline, the runner, the alert rules and the CLI talk to this interface only, so
the embedded SQLite file and the shared DynamoDB table are interchangeable; the same
test-suite runs against both (`tests/test_state_contract.py`).

A store that several replicas share (`shared = True`) also decides who polls what: it
holds leases per (source, log type) and refuses, with `LeaseLost`, any write for a
stream whose lease this process does not hold, so a replica that was paused or cut off
cannot move a checkpoint or record keys after another took over.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

Keys = Sequence[bytes]


@dataclass(frozen=True)
class Intent:
    object_key: str
    row_keys: list[bytes]
    size: int | None = None


class StateError(Exception):
    """The state store cannot be used as it is: locked, read-only, full, or corrupt.

    Never answered by starting over: a fresh state would re-land or skip data, so the
    operator is told and the affected polls fail until it is fixed.
    """


class LeaseLost(StateError):
    """This replica no longer holds the lease of the stream it tried to write: another
    replica took over, or (`lapsed`) its renewal ran late and it stopped trusting a lease
    the table still gives it. The write did not happen; whoever holds it next carries on."""

    def __init__(self, message: str, *, lapsed: bool = False) -> None:
        super().__init__(message)
        self.lapsed = lapsed


@runtime_checkable
class StateStore(Protocol):
    """Checkpoints, dedupe keys, write intents, status and alert state.

    `commit` is atomic: keys, checkpoint and intent cleanup move together or not at all.
    """

    shared: bool
    replica_id: str

    def close(self) -> None: ...

    def ping(self) -> None: ...

    def checkpoint(self, source_id: str, log_type: str) -> dict[str, Any] | None: ...

    def status(self, source_id: str, log_type: str) -> dict[str, Any] | None: ...

    def set_status(self, source_id: str, log_type: str, value: dict[str, Any]) -> None: ...

    def alert(self, key: str) -> dict[str, Any] | None: ...

    def set_alert(self, key: str, value: dict[str, Any]) -> None: ...

    def open_alerts(self) -> dict[str, dict[str, Any]]: ...

    def watchlist_value(self, key: str) -> dict[str, Any] | None:
        """The watchlist's own namespace (added indicators, their provenance, rows already
        alerted, the hour's rate), apart from alert state, so reading the open alerts
        never reads them."""
        ...

    def set_watchlist_value(self, key: str, value: dict[str, Any]) -> None: ...

    def detection_value(self, key: str) -> dict[str, Any] | None:
        """The detections' own namespace (Slack's action lists, each user's anomaly group,
        the anomalies of a poll not yet alerted), apart from alert state like the
        watchlist's."""
        ...

    def set_detection_value(self, key: str, value: dict[str, Any]) -> None: ...

    def mark_detection(self, key: str, value: dict[str, Any], *, time: int | None = None) -> bool:
        """Set mark `key` only if it is not set yet; True for the one caller (across
        replicas sharing the store) that set it. How an alert on one event is sent once.
        A mark with a `time` (epoch seconds) goes when `prune_detection_marks` passes it;
        one without is kept."""
        ...

    def detection_mark(self, key: str) -> dict[str, Any] | None:
        """The value the mark was set with (None when unset or pruned)."""
        ...

    def prune_detection_marks(self, before: int) -> int:
        """Forget the marks whose time is before `before`; returns how many went."""
        ...

    def summary(self) -> list[dict[str, Any]]: ...

    def seen(self, source_id: str, log_type: str, keys: Iterable[bytes]) -> set[bytes]: ...

    def count_seen(self, source_id: str, log_type: str) -> int: ...

    def begin_write(
        self, source_id: str, log_type: str, objects: dict[str, tuple[int, Keys]]
    ) -> None: ...

    def intents(self, source_id: str, log_type: str) -> list[Intent]: ...

    def commit(
        self,
        source_id: str,
        log_type: str,
        *,
        keys: Keys = (),
        checkpoint: dict[str, Any] | None = None,
        checkpoint_key: str | None = None,
        done_intents: Iterable[str] = (),
        prune_before: int | None = None,
    ) -> None: ...

    def reset(self, source_id: str, log_type: str | None = None) -> bool:
        """Forget a source (or one of its log types); True when there was anything."""
        ...

    def claim(
        self,
        streams: list[tuple[str, str]],
        *,
        everything: bool = False,
        on_taken: Callable[[tuple[str, str]], None] | None = None,
        on_round: Callable[[float], None] | None = None,
    ) -> None:
        """Start holding leases on a fair share of these (source, log type) streams, or on
        every free one, calling `on_taken` for each lease taken (the daemon polls it at
        once rather than at its next tick), and `on_round` with how late each renewal
        round finished; nothing for a private store, which owns all."""
        ...

    def add_streams(self, streams: list[tuple[str, str]]) -> None:
        """More streams to share, after `claim` (a workspace Enterprise Grid added); nothing
        for a private store, which owns all."""
        ...

    def polling(self, source_id: str, log_type: str) -> AbstractContextManager[bool]:
        """Whether to poll the stream now; its lease is kept while the poll runs."""
        ...

    def owns(self, source_id: str, log_type: str) -> bool:
        """Whether this process should poll the stream now (always, for a private store).
        Also asked right before each upload, so a replica that was paused past its lease
        does not put an object the new holder's recovery already settled."""
        ...

    def lease_lost(self, source_id: str, log_type: str) -> LeaseLost:
        """The error to raise when `owns` said no: whether the lease lapsed here or moved
        to another replica (never asked of a private store, which owns every stream)."""
        ...

    def leases_held(self) -> int:
        """How many streams this process holds a lease on (0 for a private store, which
        takes no leases: the metric is only registered for shared stores)."""
        ...
