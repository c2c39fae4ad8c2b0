"""DynamoDB state store: what the SQLite file keeps, in one table several replicas share.

Dedupe keys are packed, as in SQLite: each commit writes its keys as one or a few binary
items (up to `PACK` keys each), not one item per event, so 1,000 events cost about 16 KB
of writes instead of a thousand items. The lease holder of a stream is its only writer,
so it keeps the stream's keys in memory from the first look after it took the lease and
answers `seen` without reading the table again. Keys with an event time expire through
DynamoDB's TTL (`dedupe_ttl_seconds` after their event, or after they were written if
later); DynamoDB deletes expired items lazily, and a key kept too long only ever means
"seen", which is harmless.

Every commit is one transaction that also checks the stream's lease (owner and epoch):
a replica that lost its lease cannot move a checkpoint or record keys.
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import orjson

from connector import clock
from connector.identity import KEY_SIZE, NO_TIME
from connector.state.base import Intent, Keys, LeaseLost, StateError
from connector.state.leases import LEASES, Leases, Stream
from connector.state.table import TTL_ATTRIBUTE, ConditionFailed, Item, Table, create_table, key
from connector.state.tokens import DynamoTokenStorage

if TYPE_CHECKING:
    from connector.state.options import DynamoDBOptions

__all__ = ["DynamoStore", "DynamoTokenStorage", "create_table"]

PACK = 20_000
"""Keys per item: 320 KB, under DynamoDB's 400 KB item limit."""
TXN_ITEMS = 10
"""Packed items per transaction: 3.2 MB, under the 4 MB transaction limit."""


class DynamoStore:
    shared = True

    def __init__(self, options: DynamoDBOptions, *, replica: bool = True) -> None:
        self.table = Table(options)
        self.replica_id = options.replica_id or (
            f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
        )
        self.leases: Leases | None = (
            Leases(
                self.table,
                self.replica_id,
                lease_seconds=options.lease_seconds,
                renew_every=options.renew_every,
            )
            if replica
            else None
        )
        self._ttl = options.dedupe_ttl_seconds
        self._lock = threading.Lock()
        self._keys: dict[Stream, tuple[int, set[bytes]]] = {}
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
    ) -> None:
        if self.leases is not None:
            self.leases.start(streams, everything=everything, on_taken=on_taken)

    @contextmanager
    def polling(self, source_id: str, log_type: str) -> Iterator[bool]:
        if self.leases is None:
            yield False
            return
        with self.leases.polling((source_id, log_type)) as ok:
            yield ok

    def owns(self, source_id: str, log_type: str) -> bool:
        return self.leases is not None and self.leases.epoch((source_id, log_type)) is not None

    def leases_held(self) -> int:
        return self.leases.count() if self.leases is not None else 0

    def _epoch(self, stream: Stream) -> int:
        epoch = self.leases.epoch(stream) if self.leases is not None else None
        if epoch is None:
            raise LeaseLost(f"no lease on source {stream[0]!r} log type {stream[1]!r}")
        return epoch

    def close(self) -> None:
        if self.leases is not None:
            self.leases.stop()

    def ping(self) -> None:
        self.table.call("describe_table")

    # -- checkpoints, status, alerts

    def checkpoint(self, source_id: str, log_type: str) -> dict[str, Any] | None:
        return _value(self.table.get(f"C#{source_id}", log_type))

    def status(self, source_id: str, log_type: str) -> dict[str, Any] | None:
        return _value(self.table.get(f"X#{source_id}", log_type))

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

    def alert(self, key_: str) -> dict[str, Any] | None:
        return _value(self.table.get("A", key_))

    def set_alert(self, key_: str, value: dict[str, Any]) -> None:
        self.table.put({**key("A", key_), **_encoded(value)})

    def open_alerts(self) -> dict[str, dict[str, Any]]:
        alerts = {i["sk"]["S"]: _value(i) for i in self.table.query("A", consistent=False)}
        return {k: v for k, v in alerts.items() if v and v.get("open")}

    # -- dedupe keys

    def seen(self, source_id: str, log_type: str, keys: Iterable[bytes]) -> set[bytes]:
        wanted = set(keys)
        if not wanted:
            return set()
        return wanted & self._known((source_id, log_type))

    def count_seen(self, source_id: str, log_type: str) -> int:
        return len(self._load((source_id, log_type)))

    def _known(self, stream: Stream) -> set[bytes]:
        """The stream's keys: cached while this replica holds the same lease epoch."""
        epoch = self.leases.epoch(stream) if self.leases is not None else None
        if epoch is None:
            return self._load(stream)
        with self._lock:
            cached = self._keys.get(stream)
            if cached is not None and cached[0] == epoch:
                return cached[1]
        loaded = self._load(stream)
        with self._lock:
            self._keys[stream] = (epoch, loaded)
        return loaded

    def _load(self, stream: Stream) -> set[bytes]:
        found: set[bytes] = set()
        for item in self.table.query(_kpk(stream)):
            found.update(_split(item["keys"]["B"]))
        return found

    # -- write intents and commits

    def begin_write(
        self, source_id: str, log_type: str, objects: dict[str, tuple[int, Keys]]
    ) -> None:
        """Not fenced: an intent a stale replica leaves is settled by the next holder."""
        now = _n(clock.now_ts())
        for object_key, (size, rows) in objects.items():
            for part, blob in enumerate(_packs(rows, ordered_by_key=False) or [b""]):
                self.table.put(
                    {
                        **key(_wpk((source_id, log_type)), f"{object_key}#{part:04d}"),
                        "object_key": {"S": object_key},
                        "size": _n(size),
                        "rows": {"B": blob},
                        "created_at": now,
                    }
                )

    def intents(self, source_id: str, log_type: str) -> list[Intent]:
        merged: dict[str, Intent] = {}
        for item in self.table.query(_wpk((source_id, log_type))):
            name = item["object_key"]["S"]
            rows = _split(item["rows"]["B"])
            before = merged.get(name)
            merged[name] = Intent(
                name, (before.row_keys if before else []) + rows, int(item["size"]["N"])
            )
        return list(merged.values())

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
        """Transactions of packed keys, the last also the checkpoint and intent cleanup;
        every one fenced by the lease. Keys committed ahead of the checkpoint are safe:
        their objects are already written."""
        stream = (source_id, log_type)
        done = set(done_intents)
        epoch = self._epoch(stream) if self.leases is not None else 0
        steps = [self._key_item(stream, blob) for blob in _packs(keys)]
        final: list[Item] = []
        if done:
            final += [
                {"Delete": {"TableName": self.table.name, "Key": key(i["pk"]["S"], i["sk"]["S"])}}
                for i in self.table.query(_wpk(stream))
                if i["object_key"]["S"] in done
            ]
        if checkpoint is not None:
            item = {
                **key(f"C#{source_id}", checkpoint_key or log_type),
                **_encoded(checkpoint),
                "updated_at": _n(clock.now_ts()),
                "epoch": _n(epoch),
                "owner": {"S": self.replica_id},
            }
            final.append({"Put": {"TableName": self.table.name, "Item": item}})
        chunks = [steps[i : i + TXN_ITEMS] for i in range(0, len(steps), TXN_ITEMS)] or [[]]
        chunks[-1] = chunks[-1] + final
        for chunk in chunks:
            for i in range(0, max(1, len(chunk)), 90):
                part = chunk[i : i + 90]
                if part:
                    self._transact(stream, epoch, part)
        self._remember(stream, epoch, keys, prune_before)

    def _transact(self, stream: Stream, epoch: int, actions: list[Item]) -> None:
        fence = self.leases.fence(stream, epoch) if self.leases is not None else None
        try:
            self.table.transact([fence, *actions] if fence else actions)
        except ConditionFailed:
            with self._lock:
                self._keys.pop(stream, None)
            raise LeaseLost(
                f"lease on source {stream[0]!r} log type {stream[1]!r} was taken over; "
                "nothing committed"
            ) from None

    def _key_item(self, stream: Stream, blob: bytes) -> Item:
        item = {
            **key(_kpk(stream), f"{blob[:KEY_SIZE].hex()}#{secrets.token_hex(6)}"),
            "keys": {"B": blob},
        }
        expires = _expiry(blob, self._ttl)
        if expires is not None:
            item[TTL_ATTRIBUTE] = _n(expires)
        return {"Put": {"TableName": self.table.name, "Item": item}}

    def _remember(self, stream: Stream, epoch: int, keys: Keys, prune_before: int | None) -> None:
        with self._lock:
            cached = self._keys.get(stream)
            if cached is None or cached[0] != epoch:
                return
            cached[1].update(keys)
            if prune_before is not None and 0 < prune_before < NO_TIME:
                bound = (NO_TIME - prune_before + 1).to_bytes(4, "big")
                old = [k for k in cached[1] if k[:4] >= bound]
                cached[1].difference_update(old)

    # -- operators

    def summary(self) -> list[dict[str, Any]]:
        """Per stream a replica ever polled (each has a lease item): checkpoint, status,
        seen keys, pending writes and the lease holder. Reads only; no Scan."""
        leases = {i["sk"]["S"]: i for i in self.table.query(LEASES, consistent=False)}
        streams = set()
        for name in leases:
            source, _, log_type = name.rpartition("#")
            streams.add((source, log_type))
        rows = []
        for source, log_type in sorted(streams):
            lease = leases.get(f"{source}#{log_type}")
            rows.append(
                {
                    "source_id": source,
                    "log_type": log_type,
                    "checkpoint": self.checkpoint(source, log_type),
                    "status": self.status(source, log_type),
                    "seen": self.count_seen(source, log_type),
                    "pending_writes": len(self.intents(source, log_type)),
                    "lease": {"owner": lease["owner"]["S"], "epoch": int(lease["epoch"]["N"])}
                    if lease
                    else None,
                }
            )
        return rows

    def reset(self, source_id: str, log_type: str | None = None) -> None:
        """Forget a stream (operator action; run it while no replica polls that source)."""
        doomed: list[Item] = []
        for prefix in ("C#", "X#"):
            for item in self.table.query(f"{prefix}{source_id}"):
                if log_type in (None, item["sk"]["S"]):
                    doomed.append(item)
        kinds = [log_type] if log_type else ["audit", "access", "integration"]
        for lt in kinds:
            for pk in (_kpk((source_id, lt)), _wpk((source_id, lt))):
                doomed.extend(self.table.query(pk))
        for item in self.table.query("A"):
            parts = item["sk"]["S"].split(":")
            if parts[0] == source_id and log_type in (None, parts[1] if len(parts) > 1 else ""):
                doomed.append(item)
        for item in doomed:
            self.table.call("delete_item", Key=key(item["pk"]["S"], item["sk"]["S"]))
        with self._lock:
            self._keys = {s: v for s, v in self._keys.items() if s[0] != source_id}


def _kpk(stream: Stream) -> str:
    return f"K#{stream[0]}#{stream[1]}"


def _wpk(stream: Stream) -> str:
    return f"W#{stream[0]}#{stream[1]}"


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


def _encoded(value: dict[str, Any]) -> Item:
    return {"value": {"B": orjson.dumps(value)}}


def _value(item: Item | None) -> dict[str, Any] | None:
    if not item:
        return None
    decoded: dict[str, Any] = orjson.loads(item["value"]["B"])
    return decoded


def _packs(keys: Keys, *, ordered_by_key: bool = True) -> list[bytes]:
    """Keys packed into item-sized blobs: sorted for the seen set (so a pack's first key
    dates it), as given for an intent."""
    ordered = sorted(keys) if ordered_by_key else list(keys)
    blob = b"".join(ordered)
    if len(blob) != KEY_SIZE * len(ordered):
        raise StateError(f"dedupe keys must be {KEY_SIZE} bytes")
    step = PACK * KEY_SIZE
    return [blob[i : i + step] for i in range(0, len(blob), step)]


def _split(blob: bytes) -> list[bytes]:
    return [blob[i : i + KEY_SIZE] for i in range(0, len(blob), KEY_SIZE)]


def _expiry(blob: bytes, ttl: int) -> int | None:
    """When the newest-time key of a sorted pack is old enough to forget; None if timeless."""
    if blob[:4] == bytes(4):
        return None
    newest = NO_TIME - int.from_bytes(blob[:4], "big")
    return max(newest, clock.now_ts()) + ttl
