"""Leases per (source, log type): which replica polls what, and the epoch that fences it.

A lease item holds `owner`, `epoch` (bumped whenever the owner changes) and `counter`
(bumped on every renewal). As in the Kinesis Client Library, nobody compares wall
clocks: a replica calls a lease expired when it has watched its counter stand still for
`lease_seconds` on its own monotonic clock, and takes it with a write conditioned on that
counter. The holder trusts its lease only until `lease_seconds` after it *started* its
last successful renewal, which is before any taker could have started watching, so a
paused holder stops trusting its lease before anyone may take it.

Spread: every replica heartbeats into the table and aims for `ceil(streams / replicas)`
leases. One holding more releases the surplus (others take released leases at once);
one holding fewer takes released, unowned and expired leases. A replica that joins thus
gets its share within a few renewal rounds, and one that dies loses its leases to the
others after `lease_seconds` plus one round.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from connector import clock
from connector.state.table import TTL_ATTRIBUTE, Item, Table, key

log = logging.getLogger(__name__)
LEASES = "L"
REPLICAS = "R"
Stream = tuple[str, str]


@dataclass
class Held:
    epoch: int
    counter: int
    valid_until: float


@dataclass(frozen=True)
class Seen:
    owner: str
    epoch: int
    counter: int
    since: float


def lease_sk(stream: Stream) -> str:
    return f"{stream[0]}#{stream[1]}"


class Leases:
    def __init__(
        self,
        table: Table,
        replica_id: str,
        *,
        lease_seconds: float,
        renew_every: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.table = table
        self.replica_id = replica_id
        self.lease_seconds = lease_seconds
        self.renew_every = renew_every
        self._now = monotonic
        self._margin = min(1.0, lease_seconds / 10)
        self._lock = threading.Lock()
        self._held: dict[Stream, Held] = {}
        self._seen: dict[Stream, Seen] = {}
        self._streams: list[Stream] = []
        self._busy: set[Stream] = set()
        self._draining: set[Stream] = set()
        self._greedy = False
        self._on_taken: Callable[[Stream], None] | None = None
        self._rounds = 0
        self._silent: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- who holds what

    def epoch(self, stream: Stream) -> int | None:
        """The epoch of a lease this replica holds and may still trust, else None."""
        with self._lock:
            held = self._held.get(stream)
            if held is None:
                return None
            if held.valid_until <= self._now():
                del self._held[stream]
                log.warning("lease expired before renewal", extra=_fields(stream))
                return None
            return held.epoch

    @contextmanager
    def polling(self, stream: Stream) -> Iterator[bool]:
        """Whether this replica may poll the stream now; while it does, the lease is not
        released to rebalance, so no stream is polled by two replicas at once."""
        with self._lock:
            held = self._held.get(stream)
            ok = held is not None and held.valid_until > self._now()
            ok = ok and stream not in self._draining
            if ok:
                self._busy.add(stream)
        try:
            yield ok
        finally:
            with self._lock:
                self._busy.discard(stream)
                drained = ok and stream in self._draining
            if drained:
                self._release(stream)

    def count(self) -> int:
        with self._lock:
            now = self._now()
            return sum(1 for h in self._held.values() if h.valid_until > now)

    # -- the loop

    def start(
        self,
        streams: list[Stream],
        *,
        everything: bool = False,
        on_taken: Callable[[Stream], None] | None = None,
    ) -> None:
        """Take a first share now (so the first polls have work), then keep it in a thread.
        `everything`: take every free lease, not a share (`once` beside running replicas)."""
        self._streams = sorted(set(streams))
        self._stop.clear()
        self._greedy = everything
        self._on_taken = on_taken
        self.round()
        self._thread = threading.Thread(target=self._run, name="leases", daemon=True)
        self._thread.start()

    def stop(self, *, release: bool = True) -> None:
        """Stop renewing; hand the leases back so the others take over at once."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.renew_every + 10)
        if release:
            for stream in list(self._held):
                self._release(stream)
            try:
                self.table.call("delete_item", Key=key(REPLICAS, self.replica_id))
            except Exception as exc:  # noqa: BLE001 - its heartbeat goes stale on its own
                log.warning("replica heartbeat not removed", extra={"error": str(exc)})

    def _run(self) -> None:
        while not self._stop.wait(self.renew_every):
            try:
                self.round()
            except Exception as exc:  # noqa: BLE001 - the next round tries again
                log.error("lease round failed", extra={"error": str(exc)})

    def round(self) -> None:
        """Heartbeat (every other round), renew what is held, release a surplus, take a
        shortfall. The lease list is read eventually consistent: a stale counter or owner
        only makes a take's conditional write fail."""
        self._rounds += 1
        if self._rounds % 2 == 1:
            self._heartbeat()
        items = {i["sk"]["S"]: i for i in self.table.query(LEASES, consistent=False)}
        for stream in list(self._held):
            self._renew(stream)
        free, expired = self._takeable(items)
        target = len(self._streams)
        if not self._greedy:
            target = math.ceil(target / len(self._live(items, expired)))
        with self._lock:
            surplus = len(self._held) - len(self._draining) - target
            held = sorted(s for s in self._held if s not in self._draining)
            idle = [s for s in held if s not in self._busy]
            busy = [s for s in held if s in self._busy]
        for stream in (idle + busy)[: max(0, surplus)]:
            if stream in idle:
                self._release(stream)
            else:
                with self._lock:
                    self._draining.add(stream)
        for stream in free[: max(0, target - len(self._held))]:
            self._take(stream, items.get(lease_sk(stream)))
        for stream in expired:
            self._take(stream, items.get(lease_sk(stream)))

    def _heartbeat(self) -> None:
        now = clock.now_ts()
        self.table.put(
            {
                **key(REPLICAS, self.replica_id),
                "seen_at": {"N": str(now)},
                TTL_ATTRIBUTE: {"N": str(now + int(10 * self.lease_seconds) + 3600)},
            }
        )

    def _live(self, items: dict[str, Item], expired: list[Stream]) -> set[str]:
        """Replicas to share with (for spread only): those that heartbeat within the last
        two lease periods (generous: rounds run late under load), less those whose
        leases were seen standing still and that have not heartbeat since, so the others
        do not hand back what they just took from a paused or dying replica."""
        fresh = clock.now_ts() - 2 * self.lease_seconds - 1
        beats = {
            i["sk"]["S"]: int(i["seen_at"]["N"])
            for i in self.table.query(REPLICAS, consistent=False)
            if int(i["seen_at"]["N"]) >= fresh
        }
        for stream in expired:
            owner = items[lease_sk(stream)]["owner"]["S"]
            if owner:
                self._silent[owner] = beats.get(owner, 0)
        self._silent = {r: at for r, at in self._silent.items() if r in beats}
        live = {r for r, at in beats.items() if at > self._silent.get(r, -1)}
        return live | {self.replica_id}

    def _takeable(self, items: dict[str, Item]) -> tuple[list[Stream], list[Stream]]:
        """Unowned or released leases (taken up to this replica's share), and the ones
        watched standing still (always taken: their holder is gone, or nobody else takes
        a released one; the spread corrects itself afterwards)."""
        now = self._now()
        free, expired = [], []
        for stream in self._streams:
            if stream in self._held:
                continue
            item = items.get(lease_sk(stream))
            owner = item["owner"]["S"] if item else ""
            if not owner:
                free.append(stream)
            if item is None:
                continue
            seen = Seen(owner, int(item["epoch"]["N"]), int(item["counter"]["N"]), now)
            last = self._seen.get(stream)
            if last is None or (last.owner, last.epoch, last.counter) != (
                seen.owner,
                seen.epoch,
                seen.counter,
            ):
                self._seen[stream] = seen
            elif now - last.since >= self.lease_seconds:
                expired.append(stream)
        return [s for s in free if s not in expired], expired

    def _take(self, stream: Stream, item: Item | None) -> None:
        started = self._now()
        if item is None:
            epoch, counter = 1, 0
            ok = self.table.conditional(
                "put_item",
                Item=self._item(stream, epoch, counter),
                ConditionExpression="attribute_not_exists(pk)",
            )
        else:
            epoch, counter = int(item["epoch"]["N"]) + 1, int(item["counter"]["N"]) + 1
            ok = self.table.conditional(
                "put_item",
                Item=self._item(stream, epoch, counter),
                ConditionExpression="#c = :c AND #e = :e",
                ExpressionAttributeNames={"#c": "counter", "#e": "epoch"},
                ExpressionAttributeValues={
                    ":c": item["counter"],
                    ":e": item["epoch"],
                },
            )
        if ok:
            with self._lock:
                until = started + self.lease_seconds - self._margin
                self._held[stream] = Held(epoch, counter, until)
            previous = item["owner"]["S"] if item else ""
            log.info("lease taken", extra={**_fields(stream), "epoch": epoch, "from": previous})
            if self._on_taken is not None:
                self._on_taken(stream)

    def _renew(self, stream: Stream) -> None:
        held = self._held.get(stream)
        if held is None:
            return
        started = self._now()
        try:
            ok = self._swap(stream, held, self.replica_id, held.epoch)
        except Exception as exc:  # noqa: BLE001 - keep the lease until it runs out
            log.warning("lease renewal failed", extra={**_fields(stream), "error": str(exc)})
            return
        with self._lock:
            if ok:
                held.counter += 1
                held.valid_until = started + self.lease_seconds - self._margin
            else:
                self._held.pop(stream, None)
                log.warning("lease lost to another replica", extra=_fields(stream))

    def _release(self, stream: Stream) -> None:
        """Hand a lease back; one being polled is drained instead: no new poll starts on
        it, and it is released when the running poll ends (`polling`)."""
        with self._lock:
            self._draining.discard(stream)
            held = self._held.pop(stream, None)
        if held is None:
            return
        try:
            self._swap(stream, held, "", held.epoch)
            log.info("lease released", extra={**_fields(stream), "epoch": held.epoch})
        except Exception as exc:  # noqa: BLE001 - it runs out on its own
            log.warning("lease release failed", extra={**_fields(stream), "error": str(exc)})

    def _swap(self, stream: Stream, held: Held, owner: str, epoch: int) -> bool:
        return self.table.conditional(
            "put_item",
            Item=self._item(stream, epoch, held.counter + 1, owner),
            ConditionExpression="#o = :me AND #e = :e AND #c = :c",
            ExpressionAttributeNames={"#o": "owner", "#e": "epoch", "#c": "counter"},
            ExpressionAttributeValues={
                ":me": {"S": self.replica_id},
                ":e": {"N": str(held.epoch)},
                ":c": {"N": str(held.counter)},
            },
        )

    def _item(self, stream: Stream, epoch: int, counter: int, owner: str | None = None) -> Item:
        return {
            **key(LEASES, lease_sk(stream)),
            "owner": {"S": self.replica_id if owner is None else owner},
            "epoch": {"N": str(epoch)},
            "counter": {"N": str(counter)},
            "renewed_at": {"N": str(clock.now_ts())},
        }

    def fence(self, stream: Stream, epoch: int) -> Item:
        """The transaction step that makes a commit fail unless this lease still stands."""
        return {
            "ConditionCheck": {
                "TableName": self.table.name,
                "Key": key(LEASES, lease_sk(stream)),
                "ConditionExpression": "#o = :me AND #e = :e",
                "ExpressionAttributeNames": {"#o": "owner", "#e": "epoch"},
                "ExpressionAttributeValues": {
                    ":me": {"S": self.replica_id},
                    ":e": {"N": str(epoch)},
                },
            }
        }


def _fields(stream: Stream) -> dict[str, str]:
    return {"source_id": stream[0], "log_type": stream[1]}
