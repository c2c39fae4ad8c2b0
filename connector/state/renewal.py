"""The writes that keep a replica's leases: renewals, its heartbeat, and releases.

They are the only calls on the lease client's thread (`Leases`), so a renewal never
waits behind a commit, a query or a take. One round is one TransactWriteItems per 99
leases plus the heartbeat: DynamoDB has no conditional batch write, and a transaction
is one round trip where nine single writes were nine (each a few ms of botocore CPU
that a busy process hands out slowly, and a queue slot at the server). A transaction is
all or nothing, so a cancelled one is read item by item: leases whose condition failed
were taken by another replica; the others are sent again at once, while they have time.
Every renewal costs two write units instead of one (DynamoDB bills transactions double).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from connector import clock
from connector.state.table import TTL_ATTRIBUTE, Item, Table, key

log = logging.getLogger(__name__)
LEASES = "L"
REPLICAS = "R"
BATCH = 99
"""Leases per transaction: DynamoDB allows 100 actions; one is the heartbeat."""
RETRIED = frozenset({"TransactionConflict", "None", "ThrottlingError"})
Stream = tuple[str, str]


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
        attempts: int = 3,
    ) -> tuple[list[tuple[Stream, Held, float]], list[Stream]]:
        """Renew these leases (and heartbeat): (renewed with when each attempt started,
        lost). Any not in either failed for now and is kept until it runs out; an error
        with no per-item reason is raised."""
        renewed: list[tuple[Stream, Held, float]] = []
        lost: list[Stream] = []
        for start in range(0, max(1, len(held)), BATCH):
            pending = held[start : start + BATCH]
            for _ in range(attempts):
                started = now()
                actions = [{"Put": self.heartbeat()}]
                actions += [{"Put": self.swap(s, h, self.replica_id)} for s, h in pending]
                codes = self.table.transact_codes(actions)
                if codes is None:
                    renewed += [(s, h, started) for s, h in pending]
                    break
                retry = []
                for (stream, h), code in zip(pending, codes[1:], strict=True):
                    if code == "ConditionalCheckFailed" and not self._caught_up(stream, h):
                        lost.append(stream)
                    elif code in RETRIED or code == "ConditionalCheckFailed":
                        retry.append((stream, h))
                if not retry:
                    break
                pending = retry
        return renewed, lost

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
        """Hand a lease back; if an earlier renewal of ours landed after its call timed
        out, catch up with it and try once more, rather than leave the lease to run out."""
        try:
            for _ in range(2):
                if self.table.conditional("put_item", **_args(self.swap(stream, held, ""))):
                    log.info("lease released", extra={**fields(stream), "epoch": held.epoch})
                    return
                if not self._caught_up(stream, held):
                    return
            log.warning("lease not released; it runs out on its own", extra=fields(stream))
        except Exception as exc:  # noqa: BLE001 - it runs out on its own
            log.warning("lease release failed", extra={**fields(stream), "error": str(exc)})


def _args(put: Item) -> Item:
    return {k: v for k, v in put.items() if k != "TableName"}


def fields(stream: Stream) -> dict[str, str]:
    return {"source_id": stream[0], "log_type": stream[1]}
