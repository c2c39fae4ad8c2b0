"""DynamoDB state store: what the SQLite file keeps, in one table several replicas share.

Dedupe keys and write intents are packed items (`connector.state.packs`), not one item
per event. The lease holder of a stream is its only writer, so it reads the stream's keys
once per lease epoch and answers `seen` from memory after that. Keys with an event time
expire through DynamoDB's TTL (`dedupe_ttl_seconds` after their event, or after they were
written if later); DynamoDB deletes expired items lazily, and a key kept too long only
ever means "seen", which is harmless.

Every commit is a transaction that also checks the stream's lease (owner and epoch): a
replica that lost its lease cannot move a checkpoint or record keys.
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import orjson

from connector import clock
from connector.state import packs
from connector.state.base import Intent, Keys, LeaseLost, StateError
from connector.state.keys import KEY_SIZE, NO_TIME
from connector.state.leases import LEASES, Leases, Stream, lease_sk
from connector.state.sqlite_schema import V3_MARKS
from connector.state.table import ConditionFailed, Item, StoreOptions, Table, create_table, key
from connector.state.tokens import DynamoTokenStorage

__all__ = ["DynamoStore", "DynamoTokenStorage", "create_table"]

TXN_ITEMS = 10
"""Packed items per transaction: 3.2 MB, under the 4 MB transaction limit."""


class DynamoStore:
    shared = True

    def __init__(self, options: StoreOptions, *, replica: bool = True) -> None:
        self.table = Table(options)
        self.replica_id = options.replica_id or (
            f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
        )
        self.leases: Leases | None = (
            Leases(
                Table.for_leases(options, self.table.capacity),
                self.replica_id,
                lease_seconds=options.lease_seconds,
                renew_every=options.renew_every,
                control=Table.for_leases(options, self.table.capacity),
            )
            if replica
            else None
        )
        self._ttl = options.dedupe_ttl_seconds
        self._lock = threading.Lock()
        self._keys: dict[Stream, tuple[int, packs.StreamKeys]] = {}
        self._values: dict[tuple[str, str, str], tuple[int, bytes]] = {}
        self._pinned: dict[Stream, int] = {}
        self.ping()

    def __repr__(self) -> str:
        return f"DynamoStore(table={self.table.name!r}, replica={self.replica_id!r})"

    # -- leases

    def claim(
        self,
        streams: list[Stream],
        *,
        everything: bool = False,
        on_taken: Callable[[Stream], None] | None = None,
        on_round: Callable[[float], None] | None = None,
    ) -> None:
        if self.leases is not None:
            self.leases.on_round = on_round
            self.leases.start(streams, everything=everything, on_taken=on_taken)

    def add_streams(self, streams: list[Stream]) -> None:
        if self.leases is not None:
            self.leases.add(streams)

    @contextmanager
    def polling(self, source_id: str, log_type: str) -> Iterator[bool]:
        """A poll is pinned to the lease epoch it started under: if this replica loses the
        lease and takes it back while the poll runs (paused, then rebalanced), the poll's
        writes are refused, since it read a checkpoint another replica has since moved."""
        if self.leases is None:
            yield False
            return
        stream = (source_id, log_type)
        with self.leases.polling(stream) as ok:
            epoch = self.leases.epoch(stream) if ok else None
            if epoch is not None:
                with self._lock:
                    self._pinned[stream] = epoch
            try:
                yield epoch is not None
            finally:
                with self._lock:
                    self._pinned.pop(stream, None)

    def owns(self, source_id: str, log_type: str) -> bool:
        return self._current((source_id, log_type)) is not None

    def lease_lost(self, source_id: str, log_type: str) -> LeaseLost:
        return self._lost((source_id, log_type), "not held here")

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

    def leases_held(self) -> int:
        return self.leases.count() if self.leases is not None else 0

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

    def close(self) -> None:
        if self.leases is not None:
            self.leases.stop()

    def ping(self) -> None:
        self.table.call("describe_table")

    # -- checkpoints, status, alerts

    def checkpoint(self, source_id: str, log_type: str) -> dict[str, Any] | None:
        return self._read("C#", source_id, log_type)

    def status(self, source_id: str, log_type: str) -> dict[str, Any] | None:
        return self._read("X#", source_id, log_type)

    def _read(self, prefix: str, source_id: str, name: str) -> dict[str, Any] | None:
        """A stream's checkpoint or status: from memory while this replica holds the
        stream's lease (it is their only writer), else from the table."""
        epoch = self.leases.epoch((source_id, name)) if self.leases is not None else None
        slot = (prefix, source_id, name)
        if epoch is not None:
            kept = self._kept(slot, epoch)
            if kept is not None:
                return orjson.loads(kept) if kept else None
        item = self.table.get(f"{prefix}{source_id}", name)
        if epoch is not None:
            self._keep(slot, epoch, item["value"]["B"] if item else b"")
        return _value(item)

    def _keep(self, slot: tuple[str, str, str], epoch: int, encoded: bytes) -> None:
        with self._lock:
            self._values[slot] = (epoch, encoded)

    def _kept(self, slot: tuple[str, str, str], epoch: int) -> bytes | None:
        with self._lock:
            hit = self._values.get(slot)
        return hit[1] if hit is not None and hit[0] == epoch else None

    def set_status(self, source_id: str, log_type: str, value: dict[str, Any]) -> None:
        """Advisory, so fenced cheaply: refused only if a newer epoch already wrote it."""
        epoch = self._epoch((source_id, log_type)) if self.leases is not None else 0
        item = {**key(f"X#{source_id}", log_type), **_encoded(value), "epoch": _n(epoch)}
        if not self.table.conditional(
            "put_item",
            Item=item,
            ConditionExpression="attribute_not_exists(epoch) OR epoch <= :e",
            ExpressionAttributeValues={":e": _n(epoch)},
        ):
            raise LeaseLost(f"status of {source_id!r} {log_type!r} written by a newer lease")
        if self.leases is not None:
            self._keep(("X#", source_id, log_type), epoch, item["value"]["B"])

    def alert(self, key_: str) -> dict[str, Any] | None:
        return _value(self.table.get("A", key_))

    def set_alert(self, key_: str, value: dict[str, Any]) -> None:
        self.table.put({**key("A", key_), **_encoded(value)})

    def detection_value(self, key_: str) -> dict[str, Any] | None:
        """Partition `D`; a key an earlier release kept among the alerts moves here the
        first time it is read, as the watchlist's did."""
        return _value(self._moved("D", key_, "detections:"))

    def set_detection_value(self, key_: str, value: dict[str, Any]) -> None:
        self.table.put({**key("D", key_), **_encoded(value)})

    def mark_detection(self, key_: str, value: dict[str, Any], *, time: int | None = None) -> bool:
        """Partition `DM`, a conditional put. A mark an earlier release set among the
        alerts counts as set: it moves here (keeping its `at` as its time) and loses."""
        legacy = self.table.get("A", key_) if key_.startswith(V3_MARKS) else None
        if legacy is not None:
            at = (_value(legacy) or {}).get("at") if key_.startswith(V3_MARKS[0]) else None
            self._put_mark(key_, legacy["value"], at if isinstance(at, int) else None)
            self.table.delete("A", key_, size=len(legacy["value"]["B"]))
            return False
        return self._put_mark(key_, _encoded(value)["value"], time)

    def _put_mark(self, key_: str, encoded: dict[str, Any], time: int | None) -> bool:
        item = {**key("DM", key_), "value": encoded}
        if time is not None:
            item["t"] = _n(time)
        return self.table.conditional(
            "put_item", Item=item, ConditionExpression="attribute_not_exists(pk)"
        )

    def detection_mark(self, key_: str) -> dict[str, Any] | None:
        return _value(self.table.get("DM", key_))

    def prune_detection_marks(self, before: int) -> int:
        """Reads the marks' partition, which pruning keeps to a retention's anomalies.
        First moves whatever an earlier release left among the alerts (a key range of
        partition `A`, empty once moved), so marks never read again do not stay there."""
        for item in list(
            self.table.query(
                "A",
                condition="pk = :pk AND begins_with(sk, :p)",
                values={":p": {"S": "detections:"}},
            )
        ):
            key_ = item["sk"]["S"]
            if key_.startswith(V3_MARKS):
                self.mark_detection(key_, {})
            elif self._moved("D", key_, "detections:") is not None:
                self.table.delete("A", key_, size=len(item["value"]["B"]))  # D's is newer
        doomed = list(self.table.query("DM", FilterExpression="t < :b", values={":b": _n(before)}))
        for item in doomed:
            self.table.delete("DM", item["sk"]["S"], size=len(item["value"]["B"]))
        return len(doomed)

    def watchlist_value(self, key_: str) -> dict[str, Any] | None:
        """Partition `W`, and a key an earlier release kept among the alerts moves here the
        first time it is read."""
        return _value(self._moved("W", key_, "watchlist:"))

    def _moved(self, pk: str, key_: str, legacy_prefix: str) -> Item | None:
        """The item of `key_` in its own partition. One an earlier release kept among the
        alerts (partition `A`) is copied there unless a replica wrote it meanwhile, then
        deleted from the alerts."""
        found = self.table.get(pk, key_)
        if found is None and key_.startswith(legacy_prefix):
            legacy = self.table.get("A", key_)
            if legacy is not None:
                self.table.conditional(
                    "put_item",
                    Item={**key(pk, key_), "value": legacy["value"]},
                    ConditionExpression="attribute_not_exists(pk)",
                )
                self.table.delete("A", key_, size=len(legacy["value"]["B"]))
                found = self.table.get(pk, key_)
        return found

    def set_watchlist_value(self, key_: str, value: dict[str, Any]) -> None:
        self.table.put({**key("W", key_), **_encoded(value)})

    def open_alerts(self) -> dict[str, dict[str, Any]]:
        alerts = {i["sk"]["S"]: _value(i) for i in self.table.query("A", consistent=False)}
        return {k: v for k, v in alerts.items() if v and v.get("open")}

    # -- dedupe keys and write intents (see `connector.state.packs`)

    def seen(self, source_id: str, log_type: str, keys: Iterable[bytes]) -> set[bytes]:
        wanted = set(keys)
        if not wanted:
            return set()
        return wanted & self._state((source_id, log_type)).seen

    def count_seen(self, source_id: str, log_type: str) -> int:
        return len(self._state((source_id, log_type)).seen)

    def intents(self, source_id: str, log_type: str) -> list[Intent]:
        pending = self._state((source_id, log_type)).pending
        return [Intent(obj, list(p.keys), p.size) for obj, p in pending.items()]

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
        loaded = packs.load(self.table.query(_kpk(stream)))
        if epoch is not None:
            with self._lock:
                self._keys[stream] = (epoch, loaded)
        return loaded

    def begin_write(
        self, source_id: str, log_type: str, objects: dict[str, tuple[int, Keys]]
    ) -> None:
        """Checked against the lease held here, not fenced in the table: an intent a
        stale replica leaves is settled by the next holder."""
        stream = (source_id, log_type)
        state = self._state(stream, self._epoch(stream) if self.leases is not None else None)
        for obj, (size, rows) in objects.items():
            items = packs.intent_packs(_kpk(stream), obj, size, rows, self._ttl)
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
        wanted, pk = set(keys), _kpk(stream)
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
                    "updated_at": _n(clock.now_ts()),
                    "epoch": _n(epoch),
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

    # -- operators

    def leases_now(self) -> dict[Stream, dict[str, Any]]:
        """Every lease item: holder, epoch, seconds since its last renewal. A strongly
        consistent read, so an operator sees a take as soon as it is made."""
        out = {}
        for item in self.table.query(LEASES):
            source, _, log_type = item["sk"]["S"].rpartition("#")
            out[(source, log_type)] = _lease(item)
        return out

    def summary(self) -> list[dict[str, Any]]:
        """Per stream a replica ever polled (each has a lease item): checkpoint, status,
        seen keys, pending writes and the lease: holder, epoch, seconds since it was
        renewed. Reads only; no Scan."""
        leases = {i["sk"]["S"]: i for i in self.table.query(LEASES)}  # consistent: takes show
        streams = set()
        for name in leases:
            source, _, log_type = name.rpartition("#")
            streams.add((source, log_type))
        rows = []
        for source, log_type in sorted(streams):
            lease = leases.get(f"{source}#{log_type}")
            keys = self._state((source, log_type))  # one read of the partition, not two
            rows.append(
                {
                    "source_id": source,
                    "log_type": log_type,
                    "checkpoint": self.checkpoint(source, log_type),
                    "status": self.status(source, log_type),
                    "seen": len(keys.seen),
                    "pending_writes": len(keys.pending),
                    "lease": _lease(lease) if lease else None,
                }
            )
        return rows

    def reset(self, source_id: str, log_type: str | None = None) -> bool:
        """Forget a stream. An operator action, like SQLite's: stop the replicas first (a
        running holder keeps what it read until its lease moves)."""
        doomed: list[Item] = []
        for prefix in ("C#", "X#"):
            for item in self.table.query(f"{prefix}{source_id}"):
                if log_type in (None, item["sk"]["S"]):
                    doomed.append(item)
        from connector.logtypes import REGISTRY

        for lt in [log_type] if log_type else sorted(REGISTRY):
            doomed.extend(self.table.query(_kpk((source_id, lt))))
        prefix = f"{source_id}:{log_type}:" if log_type else f"{source_id}:"
        doomed.extend(i for i in self.table.query("A") if i["sk"]["S"].startswith(prefix))
        for item in doomed:
            self.table.call("delete_item", Key=key(item["pk"]["S"], item["sk"]["S"]))
        with self._lock:
            self._keys = {s: v for s, v in self._keys.items() if s[0] != source_id}
            self._values = {s: v for s, v in self._values.items() if s[1] != source_id}
        return bool(doomed)


def _lease(item: Item) -> dict[str, Any]:
    """Seconds since renewal are by the writer's wall clock against this host's, so
    only as exact as the two clocks agree (a display, never a decision)."""
    renewed = item.get("renewed_at")
    return {
        "owner": item["owner"]["S"],
        "epoch": int(item["epoch"]["N"]),
        "seconds_since_renewal": max(0, clock.now_ts() - int(renewed["N"])) if renewed else None,
    }


def _kpk(stream: Stream) -> str:
    return f"K#{stream[0]}#{stream[1]}"


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


def _encoded(value: dict[str, Any]) -> Item:
    return {"value": {"B": orjson.dumps(value)}}


def _value(item: Item | None) -> dict[str, Any] | None:
    if not item:
        return None
    decoded: dict[str, Any] = orjson.loads(item["value"]["B"])
    return decoded
