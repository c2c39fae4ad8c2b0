"""The writes that keep a replica's leases: renewals, its heartbeat, and releases.

They are the only calls on the lease client's threads (`Leases`), so a renewal never
waits behind a commit, a query or a take. A round sends every renewal and the heartbeat
at once, over the lease client's own pool: the round takes about one round trip however
many leases are held. Batching is not what DynamoDB allows for conditional writes:
BatchWriteItem takes no conditions, and TransactWriteItems (one call for all) bills
double, conflicts with the commits' fence on the same lease items, and under moto
deep-copies the whole table per call; measured in `bench.lease_causes`, it was no
faster under load and slowed every other call down.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TypeVar

from connector import clock
from connector.state.table import TTL_ATTRIBUTE, Item, Table, key

log = logging.getLogger(__name__)
LEASES = "L"
REPLICAS = "R"
POOL = 4
"""Leases renewed at once; each may have two calls in flight (`HEDGE`): the lease
client's connection pool is twice this."""
ATTEMPTS = 4
"""Tries per lease per round, within the round's budget. Two failed rounds in a row (or
one and a late round) outlast a lease's trust, so a renewal that met a throttle or a reset
is tried again at once rather than a round later: with 2 tries, 8 % of calls failing and a
loaded host, a replica alone saw its lease expire (tests/chaos/test_dynamo_faults.py)."""
BACKOFF_SECONDS = 0.05
"""A retry waits a random time up to this, doubled at each further try (full jitter)."""
HEDGE = 0.5
"""A renewal unanswered after this share of the round's budget is sent a second time
beside the first ("hedged"), and the first answer counts. One call held for its whole
timeout (a loaded server, a lost packet) would otherwise hold the round, and the rounds
after it, past the lease's trust. Both carry the same condition, so at most one applies;
the other then fails the condition on our own counter and is caught up (`_caught_up`)."""
Stream = tuple[str, str]
T = TypeVar("T")


@dataclass
class Held:
    epoch: int
    counter: int
    valid_until: float


def lease_sk(stream: Stream) -> str:
    return f"{stream[0]}#{stream[1]}"


class Writer:
    """Lease items this replica writes: conditioned on owner, epoch and counter it
    last wrote, so a write after another replica took the lease changes nothing."""

    def __init__(self, table: Table, replica_id: str, lease_seconds: float) -> None:
        self.table = table
        self.replica_id = replica_id
        self.lease_seconds = lease_seconds
        self.beats = 0
        self._lost: set[Stream] = set()
        self._pool = ThreadPoolExecutor(max_workers=POOL, thread_name_prefix="lease-renewal")
        self._calls = ThreadPoolExecutor(max_workers=2 * POOL, thread_name_prefix="lease-call")
        self._beating: Future[None] | None = None

    def item(self, stream: Stream, epoch: int, counter: int, owner: str | None = None) -> Item:
        return {
            **key(LEASES, lease_sk(stream)),
            "owner": {"S": self.replica_id if owner is None else owner},
            "epoch": {"N": str(epoch)},
            "counter": {"N": str(counter)},
            "renewed_at": {"N": str(clock.now_ts())},
        }

    def swap(self, stream: Stream, held: Held, owner: str) -> Item:
        """The conditional put that moves a held lease's counter on (renewal, `owner`
        this replica) or hands it back (`owner` empty)."""
        return {
            "TableName": self.table.name,
            "Item": self.item(stream, held.epoch, held.counter + 1, owner),
            "ConditionExpression": "#o = :me AND #e = :e AND #c = :c",
            "ExpressionAttributeNames": {"#o": "owner", "#e": "epoch", "#c": "counter"},
            "ExpressionAttributeValues": {
                ":me": {"S": self.replica_id},
                ":e": {"N": str(held.epoch)},
                ":c": {"N": str(held.counter)},
            },
        }

    def heartbeat(self) -> Item:
        """The replica's heartbeat: others watch its `beat` counter move, on their own
        clocks, to count it among the live replicas (no wall clocks compared)."""
        self.beats += 1
        now = clock.now_ts()
        return {
            "TableName": self.table.name,
            "Item": {
                **key(REPLICAS, self.replica_id),
                "beat": {"N": str(self.beats)},
                "seen_at": {"N": str(now)},
                TTL_ATTRIBUTE: {"N": str(now + int(10 * self.lease_seconds) + 3600)},
            },
        }

    def renew(
        self,
        held: list[tuple[Stream, Held]],
        now: Callable[[], float],
        budget: float,
        attempts: int = ATTEMPTS,
    ) -> tuple[list[tuple[Stream, Held, float]], list[Stream]]:
        """Renew these leases and heartbeat, all at once on the lease client's pool:
        (renewed, with when each successful attempt started; lost). Any in neither
        failed for now and is kept until it runs out. A failed renewal is retried while
        less than `budget` seconds have passed since the round began. The heartbeat is
        not waited for (a held one never holds the round), and one still in flight is
        not sent again, so beats never land out of order."""
        deadline = now() + budget
        if self._beating is None or self._beating.done():
            self._beating = self._calls.submit(self._beat)
        done = self._pool.map(
            lambda sh: self._one(sh[0], sh[1], now, attempts, deadline, budget * HEDGE), held
        )
        results = list(zip(held, done, strict=True))
        renewed = [(s, h, started) for (s, h), started in results if started is not None]
        lost = [s for (s, _), started in results if started is None and s in self._lost]
        self._lost.difference_update(lost)
        return renewed, lost

    def _beat(self) -> None:
        try:
            self.table.put(_args(self.heartbeat())["Item"])
        except Exception as exc:  # noqa: BLE001 - the next round beats again
            log.warning("replica heartbeat failed", extra={"error": str(exc)})

    def _one(
        self,
        stream: Stream,
        held: Held,
        now: Callable[[], float],
        attempts: int,
        deadline: float,
        hedge_after: float,
    ) -> float | None:
        """When the attempt that renewed the lease started, or None (lost: recorded)."""
        for attempt in range(attempts):
            if attempt:
                backoff(attempt)
                if now() >= deadline:
                    return None
            try:
                started = self._hedged(stream, held, now, hedge_after)
                if started is not None:
                    return started
                if not self._caught_up(stream, held):
                    self._lost.add(stream)
                    return None
            except Exception as exc:  # noqa: BLE001 - kept until it runs out
                log.warning("lease renewal failed", extra={**fields(stream), "error": str(exc)})
        return None

    def _hedged(
        self, stream: Stream, held: Held, now: Callable[[], float], hedge_after: float
    ) -> float | None:
        """One renewal put, sent again if unanswered after `hedge_after`: when the put
        that applied started, or None if the condition failed. Raises only if every put
        sent failed."""
        put = _args(self.swap(stream, held, self.replica_id))
        sent: dict[Future[bool], float] = {}

        def send() -> None:
            started = now()
            sent[self._calls.submit(self.table.conditional, "put_item", **put)] = started

        send()
        if not wait(sent, timeout=hedge_after).done:
            send()
        waiting = set(sent)
        error: BaseException | None = None
        while waiting:
            answered, waiting = wait(waiting, return_when=FIRST_COMPLETED)
            for call in answered:
                try:
                    return sent[call] if call.result() else None
                except Exception as exc:  # noqa: BLE001 - the other put may still answer
                    error = exc
        raise error or RuntimeError("no renewal put was sent")

    def _caught_up(self, stream: Stream, held: Held) -> bool:
        """Whether a failed condition was only an earlier renewal of ours that landed
        after its call timed out (owner and epoch ours, counter ahead): then the lease is
        still ours, and `held` takes the stored counter so the retry can succeed."""
        item = self.table.get(LEASES, lease_sk(stream))
        if not item or item["owner"]["S"] != self.replica_id:
            return False
        if int(item["epoch"]["N"]) != held.epoch or int(item["counter"]["N"]) <= held.counter:
            return False
        held.counter = int(item["counter"]["N"])
        return True

    def release(self, stream: Stream, held: Held) -> None:
        """Hand a lease back, tried again at once if the call fails: a lease left owned
        here is polled by nobody until it runs out."""
        try:
            tried(lambda: self._hand_back(stream, held))
        except Exception as exc:  # noqa: BLE001 - it runs out on its own
            log.warning("lease release failed", extra={**fields(stream), "error": str(exc)})

    def _hand_back(self, stream: Stream, held: Held) -> None:
        """If an earlier renewal of ours landed after its call timed out, catch up with
        it and try once more, rather than leave the lease to run out."""
        for _ in range(2):
            if self.table.conditional("put_item", **_args(self.swap(stream, held, ""))):
                log.info("lease released", extra={**fields(stream), "epoch": held.epoch})
                return
            if not self._caught_up(stream, held):
                return
        log.warning("lease not released; it runs out on its own", extra=fields(stream))


def backoff(attempt: int) -> None:
    """The wait before try `attempt` + 1 of a lease call: full jitter, up to
    `BACKOFF_SECONDS` doubled at each try."""
    time.sleep(random.uniform(0, BACKOFF_SECONDS * 2**attempt))


def tried(call: Callable[[], T], tries: int = ATTEMPTS) -> T:
    """`call`, tried again after `backoff` while it raises, `tries` times in all; the
    last try's error is raised."""
    for attempt in range(1, tries):
        try:
            return call()
        except Exception:  # noqa: BLE001 - tried again; the last try raises
            backoff(attempt)
    return call()


def _args(put: Item) -> Item:
    return {k: v for k, v in put.items() if k != "TableName"}


def fields(stream: Stream) -> dict[str, str]:
    return {"source_id": stream[0], "log_type": stream[1]}
