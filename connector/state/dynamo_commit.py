"""The DynamoDB store's writes of keys and checkpoints: every commit is a transaction that
also checks the stream's lease (owner and epoch), so a replica that lost its lease cannot
move a checkpoint or record keys."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from connector import clock
from connector.state import packs
from connector.state.base import Keys
from connector.state.dynamo_cache import LeasedCache
from connector.state.dynamo_items import keys_pk, num
from connector.state.keys import KEY_SIZE
from connector.state.leases import Stream
from connector.state.table import ConditionFailed, Item, key

TXN_ITEMS = 10
"""Packed items per transaction: 3.2 MB, under the 4 MB transaction limit."""


class FencedCommits(LeasedCache):
    """A base of `DynamoStore`, which sets `_ttl` (the dedupe keys' TTL in seconds)."""

    _ttl: int

    def begin_write(
        self, source_id: str, log_type: str, objects: dict[str, tuple[int, Keys]]
    ) -> None:
        """Checked against the lease held here, not fenced in the table: an intent a
        stale replica leaves is settled by the next holder."""
        stream = (source_id, log_type)
        state = self._state(stream, self._epoch(stream) if self.leases is not None else None)
        for obj, (size, rows) in objects.items():
            items = packs.intent_packs(keys_pk(stream), obj, size, rows, self._ttl)
            for item in items:
                self.table.put(item)
            state.pending[obj] = packs.Pending(size, list(rows), [i["sk"]["S"] for i in items])

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
    ) -> None:
        """Marks for the settled intents, packs for other keys, and the checkpoint, in
        transactions fenced by the lease (the checkpoint in the last: keys committed
        ahead of it are safe, their objects exist). An intent whose keys are not among
        `keys` was never written; its packs are deleted afterwards."""
        stream = (source_id, log_type)
        epoch = self._epoch(stream) if self.leases is not None else 0
        state = self._state(stream, epoch if self.leases is not None else None)
        wanted, pk = set(keys), keys_pk(stream)
        settled: list[str] = []
        void: list[str] = []
        for obj in dict.fromkeys(done_intents):
            pending = state.pending.get(obj)
            if pending is not None:
                (settled if wanted.issuperset(pending.keys) else void).append(obj)
        covered = {k for obj in settled for k in state.pending[obj].keys}
        fresh = packs.key_packs(pk, [k for k in keys if k not in covered], self._ttl)
        final = [packs.mark(pk, obj, state.pending[obj].keys, self._ttl) for obj in settled]
        slot = ("C#", source_id, checkpoint_key or log_type)
        encoded = orjson.dumps(checkpoint) if checkpoint is not None else None
        if encoded is not None and (fresh or final or void or self._kept(slot, epoch) != encoded):
            final.append(
                {
                    **key(f"C#{source_id}", checkpoint_key or log_type),
                    "value": {"B": encoded},
                    "updated_at": num(clock.now_ts()),
                    "epoch": num(epoch),
                    "owner": {"S": self.replica_id},
                }
            )
        steps = [[*fresh[i : i + TXN_ITEMS]] for i in range(0, len(fresh), TXN_ITEMS)]
        steps += [final[i : i + 90] for i in range(0, len(final), 90)]
        for step in steps:
            self._transact(stream, epoch, [self._put(item) for item in step])
        for obj in void:
            for sk in state.pending[obj].sks:
                self.table.delete(pk, sk, size=KEY_SIZE * len(state.pending[obj].keys))
        self._remember(stream, state, keys, settled + void, prune_before)
        if encoded is not None and self.leases is not None:
            self._keep(slot, epoch, encoded)

    def _put(self, item: Item) -> Item:
        return {"Put": {"TableName": self.table.name, "Item": item}}

    def _transact(self, stream: Stream, epoch: int, actions: list[Item]) -> None:
        fence = self.leases.fence(stream, epoch) if self.leases is not None else None
        try:
            self.table.transact([fence, *actions] if fence else actions)
        except ConditionFailed:
            with self._lock:
                self._forget(stream)
            raise self._lost(stream, "was taken over; nothing committed") from None
