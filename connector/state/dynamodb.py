"""DynamoDB state store: what the SQLite file keeps, in one table several replicas share.

Dedupe keys and write intents are packed items (`connector.state.packs`), not one item
per event. The lease holder of a stream is its only writer, so it reads the stream's keys
once per lease epoch and answers `seen` from memory after that. Keys with an event time
expire through DynamoDB's TTL (`dedupe_ttl_seconds` after their event, or after they were
written if later); DynamoDB deletes expired items lazily, and a key kept too long only
ever means "seen", which is harmless.

Every commit is a transaction that also checks the stream's lease (owner and epoch): a
replica that lost its lease cannot move a checkpoint or record keys.

`DynamoStore` is composed of parts, one concern each: what a lease holder keeps in memory
(`dynamo_cache`), the fenced commits (`dynamo_commit`), the alert, detection and watchlist
namespaces (`dynamo_namespaces`) and the item encoding (`dynamo_items`).
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import orjson

from connector.state.base import Intent, LeaseLost
from connector.state.dynamo_commit import FencedCommits
from connector.state.dynamo_items import item_value, keys_pk, lease_view, num, value_item
from connector.state.dynamo_namespaces import Namespaces
from connector.state.leases import LEASES, Leases, Stream
from connector.state.table import Item, StoreOptions, Table, create_table, key
from connector.state.tokens import DynamoTokenStorage

__all__ = ["DynamoStore", "DynamoTokenStorage", "create_table"]


class DynamoStore(FencedCommits, Namespaces):
    shared = True

    def __init__(self, options: StoreOptions, *, replica: bool = True) -> None:
        table = Table(options)
        replica_id = options.replica_id or (
            f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
        )
        leases = (
            Leases(
                Table.for_leases(options, table.capacity),
                replica_id,
                lease_seconds=options.lease_seconds,
                renew_every=options.renew_every,
                control=Table.for_leases(options, table.capacity),
            )
            if replica
            else None
        )
        super().__init__(table, leases, replica_id)
        self._ttl = options.dedupe_ttl_seconds
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

    def leases_held(self) -> int:
        return self.leases.count() if self.leases is not None else 0

    def close(self) -> None:
        if self.leases is not None:
            self.leases.stop()

    def ping(self) -> None:
        self.table.call("describe_table")

    # -- checkpoints and status (alerts, detections, watchlist: `dynamo_namespaces`)

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
        return item_value(item)

    def set_status(self, source_id: str, log_type: str, value: dict[str, Any]) -> None:
        """Advisory, so fenced cheaply: refused only if a newer epoch already wrote it."""
        epoch = self._epoch((source_id, log_type)) if self.leases is not None else 0
        item = {**key(f"X#{source_id}", log_type), **value_item(value), "epoch": num(epoch)}
        if not self.table.conditional(
            "put_item",
            Item=item,
            ConditionExpression="attribute_not_exists(epoch) OR epoch <= :e",
            ExpressionAttributeValues={":e": num(epoch)},
        ):
            raise LeaseLost(f"status of {source_id!r} {log_type!r} written by a newer lease")
        if self.leases is not None:
            self._keep(("X#", source_id, log_type), epoch, item["value"]["B"])

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

    # -- operators

    def leases_now(self) -> dict[Stream, dict[str, Any]]:
        """Every lease item: holder, epoch, seconds since its last renewal. A strongly
        consistent read, so an operator sees a take as soon as it is made."""
        out = {}
        for item in self.table.query(LEASES):
            source, _, log_type = item["sk"]["S"].rpartition("#")
            out[(source, log_type)] = lease_view(item)
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
                    "lease": lease_view(lease) if lease else None,
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
            doomed.extend(self.table.query(keys_pk((source_id, lt))))
        prefix = f"{source_id}:{log_type}:" if log_type else f"{source_id}:"
        doomed.extend(i for i in self.table.query("A") if i["sk"]["S"].startswith(prefix))
        for item in doomed:
            self.table.call("delete_item", Key=key(item["pk"]["S"], item["sk"]["S"]))
        with self._lock:
            self._keys = {s: v for s, v in self._keys.items() if s[0] != source_id}
            self._values = {s: v for s, v in self._values.items() if s[1] != source_id}
        return bool(doomed)
