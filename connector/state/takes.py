"""Taking leases: conditional puts on the spread's client, several at once.

A take is a put conditioned on the epoch and counter the taker read, so of replicas taking
one lease at the same time exactly one succeeds, and a holder that renewed meanwhile keeps
it; then the stream's fence is raised to the new epoch (`fences`), and only then is the
lease trusted (if raising fails, it is not, and runs out for the next take). The takes a
replica decides together go out together over the client's pool: a dead replica's leases
are taken in about one round trip, not one after another. Each take is reported the
moment it is made, so the lease count in `/metrics` and the owner in `state show` change
when the take happens, not after the stream's first poll.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from connector.state.base import StateError
from connector.state.fences import raise_fence
from connector.state.renewal import (
    LEASES,
    Held,
    Stream,
    Writer,
    fields,
    lease_sk,
    tried,
)
from connector.state.table import Item, Table

log = logging.getLogger(__name__)
POOL = 4
"""Takes in flight at once: the spread client's connection pool (`Table.for_leases`)."""
FENCE_TRIES = 3


@dataclass(frozen=True)
class Taken:
    stream: Stream
    epoch: int
    counter: int
    started: float
    """When the put that took it was sent (monotonic): the holder's trust starts there."""
    previous: str


class Taker:
    def __init__(self, table: Table, writer: Writer, monotonic: Callable[[], float]) -> None:
        self.table = table
        self.writer = writer
        self._now = monotonic
        self._pool = ThreadPoolExecutor(max_workers=POOL, thread_name_prefix="lease-take")

    def take(
        self, wanted: list[tuple[Stream, Item | None]], done: Callable[[Taken], None]
    ) -> list[Stream]:
        """Take these leases (each as read: its item, or None if it had none) at once,
        calling `done` on a pool thread as each one is taken. Returns those not taken."""
        ok = list(self._pool.map(lambda w: self._one(w[0], w[1], done), wanted))
        return [stream for (stream, _), took in zip(wanted, ok, strict=True) if not took]

    def _one(self, stream: Stream, item: Item | None, done: Callable[[Taken], None]) -> bool:
        if item is None:
            epoch, counter = 1, 0
            condition: Item = {"ConditionExpression": "attribute_not_exists(pk)"}
        else:
            epoch, counter = int(item["epoch"]["N"]) + 1, int(item["counter"]["N"]) + 1
            condition = {
                "ConditionExpression": "#c = :c AND #e = :e",
                "ExpressionAttributeNames": {"#c": "counter", "#e": "epoch"},
                "ExpressionAttributeValues": {":c": item["counter"], ":e": item["epoch"]},
            }
        started = self._now()
        try:
            if not self._put(stream, epoch, counter, condition):
                return False
        except StateError as exc:  # the others may still be taken; a later round retries
            log.warning("lease take failed", extra={**fields(stream), "error": str(exc)})
            return False
        try:
            took = self._fence(stream, epoch)
        except StateError as exc:
            log.warning(
                "lease take failed: fence not raised, lease handed back",
                extra={**fields(stream), "error": str(exc)},
            )
            self.writer.release(stream, Held(epoch, counter, 0.0))
            return False
        if took:
            done(Taken(stream, epoch, counter, started, item["owner"]["S"] if item else ""))
        return took

    def _fence(self, stream: Stream, epoch: int) -> bool:
        """Raise the stream's fence to the epoch just taken, tried again at once if it
        fails (the raise is idempotent). A lease taken but not fenced is not trusted; left
        alone it would sit uncovered until it ran out, so after the last try the caller
        hands it back for the next take instead."""
        return tried(
            lambda: raise_fence(self.table, self.writer.replica_id, stream, epoch), FENCE_TRIES
        )

    def _put(self, stream: Stream, epoch: int, counter: int, condition: Item) -> bool:
        """The take's conditional put; True also when it failed, or its condition did,
        only because an earlier try of this same put applied and its answer was lost
        (the item holds exactly what it wrote). Otherwise that lease would sit taken by
        a replica that does not know it, uncovered until it ran out."""
        try:
            if self.table.conditional(
                "put_item", Item=self.writer.item(stream, epoch, counter), **condition
            ):
                return True
        except StateError:
            if not self._wrote(stream, epoch, counter):
                raise
            return True
        return self._wrote(stream, epoch, counter)

    def _wrote(self, stream: Stream, epoch: int, counter: int) -> bool:
        try:
            item = self.table.get(LEASES, lease_sk(stream))
        except StateError:
            return False
        return (
            item is not None
            and item["owner"]["S"] == self.writer.replica_id
            and int(item["epoch"]["N"]) == epoch
            and int(item["counter"]["N"]) == counter
        )
