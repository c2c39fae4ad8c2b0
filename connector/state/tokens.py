"""OAuth token pairs in the shared table, so every replica uses the same rotating pair.

Slack's refresh token is single-use. `locked()` takes a lock item with a conditional
write (and the holder re-reads the pair inside it), so of several replicas whose token is
due at once exactly one spends the refresh token and the others pick up its new pair.
The lock runs out after `LOCK_SECONDS` in case its holder died; a refresh takes one
HTTP call with a 30 s timeout, far inside it.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager

import orjson

from connector import clock
from connector.slack.tokenset import TokenSet
from connector.state.base import StateError
from connector.state.table import TTL_ATTRIBUTE, Item, Table, TableOptions, key
from connector.state.token_store import TokenFileError

LOCK_SECONDS = 120
WAIT_SECONDS = 60.0
STAMP_SECONDS = 5.0


class DynamoTokenStorage:
    def __init__(self, options: TableOptions, source_id: str) -> None:
        self.table = Table(options)
        self.source_id = source_id
        self.path = f"dynamodb://{options.table}/T/{source_id}"
        self._stamp: tuple[float, int | None] | None = None
        self._locked = False

    def __repr__(self) -> str:
        return f"DynamoTokenStorage({self.path!r})"

    def stamp(self) -> int | None:
        """The pair's version: read at most every few seconds, always inside the lock."""
        now = time.monotonic()
        if not self._locked and self._stamp and now - self._stamp[0] < STAMP_SECONDS:
            return self._stamp[1]
        item = self._get("T")
        version = int(item["version"]["N"]) if item else None
        self._stamp = (now, version)
        return version

    def load(self) -> TokenSet | None:
        item = self._get("T")
        if item is None:
            return None
        try:
            return TokenSet.from_dict(orjson.loads(item["token"]["B"]))
        except (ValueError, KeyError, TypeError):
            raise TokenFileError(f"{self.path} is corrupt") from None

    def save(self, token_set: TokenSet) -> None:
        current = self._get("T")
        version = int(current["version"]["N"]) + 1 if current else 1
        try:
            self.table.put(
                {
                    **key("T", self.source_id),
                    "token": {"B": orjson.dumps(token_set.to_dict())},
                    "version": {"N": str(version)},
                    "saved_at": {"N": str(clock.now_ts())},
                }
            )
        except StateError as exc:
            raise TokenFileError(f"cannot write {self.path} ({exc})") from None
        self._stamp = None

    @contextmanager
    def locked(self) -> Iterator[None]:
        me = secrets.token_hex(8)
        deadline = time.monotonic() + WAIT_SECONDS
        while not self._acquire(me):
            if time.monotonic() > deadline:
                raise TokenFileError(f"{self.path}: refresh lock held by another replica")
            time.sleep(0.2)
        self._locked = True
        try:
            yield
        finally:
            self._locked = False
            try:
                self.table.conditional(
                    "delete_item",
                    Key=key("TL", self.source_id),
                    ConditionExpression="#o = :me",
                    ExpressionAttributeNames={"#o": "owner"},
                    ExpressionAttributeValues={":me": {"S": me}},
                )
            except StateError:
                pass  # it runs out on its own

    def _acquire(self, me: str) -> bool:
        now = clock.now_ts()
        try:
            return self.table.conditional(
                "put_item",
                Item={
                    **key("TL", self.source_id),
                    "owner": {"S": me},
                    "until": {"N": str(now + LOCK_SECONDS)},
                    TTL_ATTRIBUTE: {"N": str(now + LOCK_SECONDS + 3600)},
                },
                ConditionExpression="attribute_not_exists(pk) OR #u < :now",
                ExpressionAttributeNames={"#u": "until"},
                ExpressionAttributeValues={":now": {"N": str(now)}},
            )
        except StateError as exc:
            raise TokenFileError(f"{self.path}: {exc}") from None

    def _get(self, pk: str) -> Item | None:
        try:
            return self.table.get(pk, self.source_id)
        except StateError as exc:
            raise TokenFileError(f"cannot read {self.path} ({exc})") from None
