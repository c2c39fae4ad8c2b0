"""The DynamoDB table the replicas share: client, item encoding, capacity and creation.

One table, string partition key `pk` and sort key `sk`, TTL on `expires_at`:

| pk                         | sk                      | holds                               |
| -------------------------- | ----------------------- | ----------------------------------- |
| `L`                        | `{source}#{log_type}`   | lease: owner, epoch, counter        |
| `F`                        | `{source}#{log_type}`   | fence of commits: owner, epoch      |
| `R`                        | replica id              | replica heartbeat (TTL)             |
| `C#{source}`               | checkpoint key          | checkpoint, fenced epoch            |
| `X#{source}`               | log type                | status                              |
| `K#{source}#{log_type}`    | `P#~{id}#{part}`        | dedupe keys of one commit, packed   |
| `K#{source}#{log_type}`    | `P#{object key}#{part}` | write intent (row keys, packed)     |
| `K#{source}#{log_type}`    | `S#{object key}`        | mark: that object was written       |
| `A`                        | alert key               | alert state                         |
| `W`                        | watchlist key           | watchlist state (indicators, rows)  |
| `D`                        | detection key           | action lists, anomaly groups/outbox |
| `DM`                       | mark key                | detection mark (`t`: prune time)    |
| `T` / `TL`                 | source                  | OAuth token pair / refresh lock     |

Capacity is counted here from DynamoDB's published sizing rules (a write unit per KB of
item, a read unit per 4 KB, eventually consistent reads half, transactions double), so
`bench/` reports what a real table would bill; moto does not meter.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from typing import Any, Protocol

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from connector.state.base import StateError
from connector.state.conflicts import Backoff

Item = dict[str, Any]
TTL_ATTRIBUTE = "expires_at"


class TableOptions(Protocol):
    """What the table needs of `[state] type = "dynamodb"` (`state.options.DynamoDBOptions`):
    named here, so the modules that use the table never import the options that open them."""

    @property
    def table(self) -> str: ...
    @property
    def region(self) -> str | None: ...
    @property
    def endpoint_url(self) -> str | None: ...
    @property
    def max_attempts(self) -> int: ...


class StoreOptions(TableOptions, Protocol):
    """What `DynamoStore` needs besides: replica identity, lease timing, key expiry."""

    @property
    def replica_id(self) -> str | None: ...
    @property
    def lease_seconds(self) -> float: ...
    @property
    def renew_every(self) -> float: ...
    @property
    def dedupe_ttl_seconds(self) -> int: ...


class Capacity:
    """Read and write units this process consumed, by DynamoDB's sizing rules."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.read = 0.0
        self.write = 0.0

    def wrote(self, items: list[Item], *, transactional: bool = False) -> None:
        units = sum(max(1, math.ceil(item_size(i) / 1024)) for i in items)
        with self._lock:
            self.write += units * (2 if transactional else 1)

    def read_items(self, items: list[Item], *, consistent: bool) -> None:
        units = max(1, math.ceil(sum(item_size(i) for i in items) / 4096))
        with self._lock:
            self.read += units * (1.0 if consistent else 0.5)


def item_size(item: Item) -> int:
    """Bytes DynamoDB counts for an item: attribute names plus values."""
    size = 0
    for name, value in item.items():
        size += len(name.encode())
        for kind, raw in value.items():
            if kind == "S":
                size += len(raw.encode())
            elif kind == "B":
                size += len(raw)
            elif kind == "N":
                size += len(raw) // 2 + 2
            else:
                size += 1
    return size


class Table:
    """Thin wrapper: typed errors that name the table (never credentials), metered calls."""

    def __init__(
        self,
        options: TableOptions,
        *,
        attempts: int | None = None,
        timeout: float | None = None,
        pool: int = 64,
        capacity: Capacity | None = None,
        conflict_seconds: float | None = None,
    ) -> None:
        """`attempts` and `timeout` (seconds, per HTTP attempt) default to the state
        store's own: the lease client passes its own, shorter ones (`for_leases`).
        A write that meets a transaction conflict is tried again for up to
        `conflict_seconds` (default: one attempt's timeout, the budget of a call)."""
        self.name = options.table
        self.capacity = capacity or Capacity()
        self.backoff = Backoff(conflict_seconds if conflict_seconds is not None else timeout or 10)
        self._db: Any = boto3.client(
            "dynamodb",
            region_name=options.region,
            endpoint_url=options.endpoint_url,
            config=Config(
                retries={
                    "total_max_attempts": attempts or options.max_attempts,
                    "mode": "standard",
                },
                connect_timeout=timeout or 5,
                max_pool_connections=pool,
                read_timeout=timeout or 10,
            ),
        )

    @classmethod
    def for_leases(cls, options: StoreOptions, capacity: Capacity | None = None) -> Table:
        """A client of its own for lease calls: its own connection pool, so a renewal
        never queues behind commits, and no retries inside botocore, so one slow call can
        never hold a renewal past its lease (the caller retries while the lease still has
        time; a commit client would retry five
        times with 10 s timeouts). The timeout is what is left of a lease when its renewal
        is due on time: a call that outlives it is no use, and one cut short any sooner
        only adds a retry to a slow server."""
        lease = options.lease_seconds
        timeout = max(options.renew_every, lease - min(1.0, lease / 10) - options.renew_every)
        brief = options.renew_every / 4
        return cls(
            options, attempts=1, timeout=timeout, pool=8, capacity=capacity, conflict_seconds=brief
        )

    def error(self, exc: BaseException) -> StateError:
        code = ""
        if isinstance(exc, ClientError):
            code = str(exc.response.get("Error", {}).get("Code", ""))
        missing = code == "ResourceNotFoundException"
        hint = " (create it: slack-connector state init)" if missing else ""
        return StateError(f"state table {self.name}: {code or type(exc).__name__}{hint}")

    def call(self, method: str, **kw: Any) -> Any:
        try:
            return self.backoff.run(lambda: getattr(self._db, method)(TableName=self.name, **kw))
        except (BotoCoreError, ClientError) as exc:
            raise self.error(exc) from None

    def get(self, pk: str, sk: str, *, consistent: bool = True) -> Item | None:
        item: Item | None = self.call("get_item", Key=key(pk, sk), ConsistentRead=consistent).get(
            "Item"
        )
        self.capacity.read_items([item] if item else [], consistent=consistent)
        return item

    def put(self, item: Item, **kw: Any) -> None:
        self.call("put_item", Item=item, **kw)
        self.capacity.wrote([item])

    def query(self, pk: str, *, consistent: bool = True, **kw: Any) -> Iterator[Item]:
        """Every item of a partition (optionally a sort-key range), page by page."""
        args: dict[str, Any] = {
            "KeyConditionExpression": kw.pop("condition", "pk = :pk"),
            "ExpressionAttributeValues": {":pk": {"S": pk}, **kw.pop("values", {})},
            "ConsistentRead": consistent,
            **kw,
        }
        while True:
            page = self.call("query", **args)
            items: list[Item] = page.get("Items", [])
            self.capacity.read_items(items, consistent=consistent)
            yield from items
            if "LastEvaluatedKey" not in page:
                return
            args["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def delete(self, pk: str, sk: str, *, size: int) -> None:
        """A delete is billed by the size of the item it removes."""
        self.call("delete_item", Key=key(pk, sk))
        self.capacity.wrote([{"x": {"B": bytes(size)}}])

    def transact(self, actions: list[Item]) -> None:
        """All of these or none (Put and ConditionCheck); a failed condition raises
        `ConditionFailed`. A transaction cancelled only by conflicts is tried again (no
        client token given: each try is a new request, and a cancelled one wrote nothing)."""
        try:
            self.backoff.run(lambda: self._db.transact_write_items(TransactItems=actions))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "TransactionCanceledException":
                reasons = exc.response.get("CancellationReasons", [])
                if any(r.get("Code") == "ConditionalCheckFailed" for r in reasons):
                    raise ConditionFailed from None
            raise self.error(exc) from None
        except BotoCoreError as exc:
            raise self.error(exc) from None
        written = [a["Put"]["Item"] for a in actions if "Put" in a]
        checks = [{"pk": {"S": "x"}} for a in actions if "ConditionCheck" in a]
        self.capacity.wrote(written + checks, transactional=True)

    def conditional(self, method: str, **kw: Any) -> bool:
        """A conditional write: True when it happened, False when the condition failed."""
        try:
            self.backoff.run(lambda: getattr(self._db, method)(TableName=self.name, **kw))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                self.capacity.wrote([kw.get("Item") or {"pk": {"S": "x"}}])
                return False
            raise self.error(exc) from None
        except BotoCoreError as exc:
            raise self.error(exc) from None
        self.capacity.wrote([kw.get("Item") or {"pk": {"S": "x"}}])
        return True


class ConditionFailed(Exception):
    """A transaction's condition did not hold; nothing of it was written."""


def key(pk: str, sk: str) -> Item:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def create_table(options: TableOptions) -> str:
    """The table, on-demand billing, TTL on `expires_at`; idempotent."""
    table = Table(options)
    db = table._db
    try:
        db.create_table(
            TableName=table.name,
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        db.get_waiter("table_exists").wait(TableName=table.name)
        created = "created"
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ResourceInUseException":
            raise table.error(exc) from None
        created = "already exists"
    except BotoCoreError as exc:
        raise table.error(exc) from None
    try:
        db.update_time_to_live(
            TableName=table.name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE},
        )
    except ClientError as exc:
        if "already enabled" not in str(exc).lower():
            raise table.error(exc) from None
    return f"table {table.name} {created}; TTL on {TTL_ATTRIBUTE}"
