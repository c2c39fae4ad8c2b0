"""What a DynamoDB replica keeps of the streams whose lease it holds.

The lease holder of a stream is its only writer, so it reads the stream's keys, intents,
checkpoint and status once per lease epoch and answers from memory after that. A poll is
pinned to the epoch it started under; a stream whose lease is not trusted loses what is
kept of it, so whoever holds it next reads it from the table.
"""

from __future__ import annotations

import threading

from connector.state import packs
from connector.state.base import Keys, LeaseLost, StateError
from connector.state.dynamo_items import keys_pk
from connector.state.keys import NO_TIME
from connector.state.leases import LEASES, Leases, Stream, lease_sk
from connector.state.table import Table


class LeasedCache:
    def __init__(self, table: Table, leases: Leases | None, replica_id: str) -> None:
        self.table = table
        self.leases = leases
        self.replica_id = replica_id
        self._lock = threading.Lock()
        self._keys: dict[Stream, tuple[int, packs.StreamKeys]] = {}
        self._values: dict[tuple[str, str, str], tuple[int, bytes]] = {}
        self._pinned: dict[Stream, int] = {}

    def _current(self, stream: Stream) -> int | None:
        """The epoch of the lease held now, if a running poll of the stream started
        under that same epoch (or none runs). A stream whose lease is not trusted
        loses what is kept of it, so whoever holds it next reads it from the table."""
        epoch = self.leases.epoch(stream) if self.leases is not None else None
        with self._lock:
            pinned = self._pinned.get(stream)
            if epoch is None:
                self._forget(stream)
        return None if pinned is not None and pinned != epoch else epoch

    def _forget(self, stream: Stream) -> None:
        """Drop the stream's kept keys and values (the caller holds `_lock`)."""
        self._keys.pop(stream, None)
        for slot in [s for s in self._values if s[1] == stream[0] and s[2] == stream[1]]:
            del self._values[slot]

    def _epoch(self, stream: Stream) -> int:
        epoch = self._current(stream)
        if epoch is None:
            raise self._lost(stream, "not held here")
        return epoch

    def _lost(self, stream: Stream, what: str) -> LeaseLost:
        """Why a write was refused, for the log: a lease the table still gives this
        replica lapsed here (a renewal ran late); any other moved to another replica."""
        where = f"lease on source {stream[0]!r} log type {stream[1]!r}"
        try:
            item = self.leases.control.get(LEASES, lease_sk(stream)) if self.leases else None
        except StateError:
            item = None
        if item is not None and item.get("owner", {}).get("S") == self.replica_id:
            return LeaseLost(f"{where} lapsed here, still ours in the table", lapsed=True)
        return LeaseLost(f"{where} {what}")

    def _keep(self, slot: tuple[str, str, str], epoch: int, encoded: bytes) -> None:
        with self._lock:
            self._values[slot] = (epoch, encoded)

    def _kept(self, slot: tuple[str, str, str], epoch: int) -> bytes | None:
        with self._lock:
            hit = self._values.get(slot)
        return hit[1] if hit is not None and hit[0] == epoch else None

    def _state(self, stream: Stream, epoch: int | None = None) -> packs.StreamKeys:
        """The stream's keys and intents. The lease holder is their only writer, so it
        reads them once per lease epoch and keeps them; anyone else reads them afresh.
        A write passes the epoch it checked, so what it records lands in the copy kept
        for that epoch even if the lease stopped being trusted since (a copy read
        without the lease would take the write and be thrown away, leaving the kept one
        without it for a renewal of the same epoch to find)."""
        if epoch is None:
            epoch = self._current(stream)
        if epoch is not None:
            with self._lock:
                cached = self._keys.get(stream)
                if cached is not None and cached[0] == epoch:
                    return cached[1]
        loaded = packs.load(self.table.query(keys_pk(stream)))
        if epoch is not None:
            with self._lock:
                self._keys[stream] = (epoch, loaded)
        return loaded

    def _remember(
        self,
        stream: Stream,
        state: packs.StreamKeys,
        keys: Keys,
        done: list[str],
        prune_before: int | None,
    ) -> None:
        with self._lock:
            state.seen.update(keys)
            for obj in done:
                state.pending.pop(obj, None)
            if prune_before is not None and 0 < prune_before < NO_TIME:
                bound = (NO_TIME - prune_before + 1).to_bytes(4, "big")
                state.seen.difference_update([k for k in state.seen if k[:4] >= bound])
