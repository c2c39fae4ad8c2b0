"""The fence of a stream's writes: an item apart from its lease, so commits and renewals
never meet on one item.

DynamoDB refuses a write to an item that an in-flight transaction holds
(`TransactionConflictException`). If every commit checked the lease item itself, every
renewal arriving while a commit of the same stream is in flight would be refused, and a
slow transaction (seconds, under load) could make a lease lapse. So the lease item
(`L`, owner, epoch and a counter bumped by each renewal) is written by renewals, and the
fence item (`F`, owner and epoch only) is written once per epoch, by whoever takes the
lease, and checked by every commit (`ConditionCheck`). Renewals and commits then share
no item; commits contend only with the take that ends them, which is the point.

Order makes it safe: a replica takes the lease, then raises the fence to its epoch, and
only then trusts the lease and reads the stream. A commit of the previous holder either
lands before the fence moves (so the new holder reads it) or is refused. The fence only
moves forward, so a raise whose answer came late cannot undo a later one.
If raising fails, the lease is not trusted and runs out, and the next take raises it.

Replicas of a version that fenced on the lease item do not raise this fence: stop them
all before starting this version on the same table.
"""

from __future__ import annotations

from connector.state.renewal import Stream, lease_sk
from connector.state.table import Item, Table, key

FENCES = "F"


def raise_fence(table: Table, replica_id: str, stream: Stream, epoch: int) -> bool:
    """Move the stream's fence to this replica and epoch; False if it is already past.
    Idempotent: a retry of a raise whose answer was lost succeeds."""
    return table.conditional(
        "put_item",
        Item={
            **key(FENCES, lease_sk(stream)),
            "owner": {"S": replica_id},
            "epoch": {"N": str(epoch)},
        },
        ConditionExpression="attribute_not_exists(epoch) OR epoch < :e OR "
        "(epoch = :e AND #o = :me)",
        ExpressionAttributeNames={"#o": "owner"},
        ExpressionAttributeValues={":e": {"N": str(epoch)}, ":me": {"S": replica_id}},
    )


def check(table: str, replica_id: str, stream: Stream, epoch: int) -> Item:
    """The transaction step that makes a commit fail unless the fence is this replica's
    at this epoch."""
    return {
        "ConditionCheck": {
            "TableName": table,
            "Key": key(FENCES, lease_sk(stream)),
            "ConditionExpression": "#o = :me AND #e = :e",
            "ExpressionAttributeNames": {"#o": "owner", "#e": "epoch"},
            "ExpressionAttributeValues": {":me": {"S": replica_id}, ":e": {"N": str(epoch)}},
        }
    }
