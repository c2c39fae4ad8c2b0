"""Dedupe keys and write intents of one stream, as packed items in the shared table.

Each stream's partition `K#{source}#{log_type}` holds two kinds of item:

* packs, `P#...`: up to `PACK` 16-byte keys in one binary attribute. A pack that carries
  `obj` holds the row keys of an object about to be written (a write intent); one
  without `obj` holds keys committed directly.
* marks, `S#{object key}`: that object was written, so its packs' keys are seen.

A batch's row keys are thus written once, before its upload (16 bytes a key), and its
commit adds a mark of a few dozen bytes in the same fenced transaction as the checkpoint,
instead of writing the keys a second time and deleting the intent (which DynamoDB bills
by size too): about a quarter of the write units. Packs and marks of keys with an event
time expire through TTL; the others are kept, as the SQLite store keeps them.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from connector import clock
from connector.state.base import StateError
from connector.state.keyblob import joined, split
from connector.state.keys import KEY_SIZE, NO_TIME
from connector.state.table import TTL_ATTRIBUTE, Item, key

PACK = 20_000
"""Keys per item: 320 KB, under DynamoDB's 400 KB item limit."""


@dataclass
class Pending:
    size: int
    keys: list[bytes]
    sks: list[str]


@dataclass
class StreamKeys:
    """What the partition says: keys seen, and intents not settled yet."""

    seen: set[bytes] = field(default_factory=set)
    pending: dict[str, Pending] = field(default_factory=dict)


def load(items: Iterable[Item]) -> StreamKeys:
    state = StreamKeys()
    marks: set[str] = set()
    parts: dict[str, list[Item]] = {}
    for item in items:
        sk = item["sk"]["S"]
        if sk.startswith("S#"):
            marks.add(sk[2:])
        elif "obj" in item:
            parts.setdefault(item["obj"]["S"], []).append(item)
        else:
            state.seen.update(split(item["keys"]["B"]))
    for obj, packs in parts.items():
        packs.sort(key=lambda i: i["sk"]["S"])
        keys = [k for i in packs for k in split(i["keys"]["B"])]
        if obj in marks:
            state.seen.update(keys)
        else:
            sks = [i["sk"]["S"] for i in packs]
            state.pending[obj] = Pending(int(packs[0]["size"]["N"]), keys, sks)
    return state


def intent_packs(pk: str, obj: str, size: int, keys: Sequence[bytes], ttl: int) -> list[Item]:
    """The packs of an object's row keys, in their order; rewriting the same object
    overwrites the same items."""
    blobs = packed(keys, ordered=False) or [b""]
    return [
        _pack(pk, f"P#{obj}#{part:04d}", blob, ttl, {"obj": {"S": obj}, "size": _n(size)})
        for part, blob in enumerate(blobs)
    ]


def key_packs(pk: str, keys: Sequence[bytes], ttl: int) -> list[Item]:
    tag = secrets.token_hex(6)
    return [
        _pack(pk, f"P#~{tag}#{part:04d}", blob, ttl, {})
        for part, blob in enumerate(packed(keys, ordered=True))
    ]


def mark(pk: str, obj: str, keys: Sequence[bytes], ttl: int) -> Item:
    item: Item = {**key(pk, f"S#{obj}"), "at": _n(clock.now_ts())}
    expires = expiry(keys, ttl)
    if expires is not None:
        item[TTL_ATTRIBUTE] = _n(expires)
    return item


def _pack(pk: str, sk: str, blob: bytes, ttl: int, extra: Item) -> Item:
    item: Item = {**key(pk, sk), "keys": {"B": blob}, **extra}
    expires = expiry(split(blob), ttl)
    if expires is not None:
        item[TTL_ATTRIBUTE] = _n(expires)
    return item


def expiry(keys: Iterable[bytes], ttl: int) -> int | None:
    """When keys are old enough to forget: `ttl` after the newest event (or after now, if
    later); None when any key has no time (those are kept)."""
    prefixes = {k[:4] for k in keys}
    if not prefixes or bytes(4) in prefixes:
        return None
    newest = NO_TIME - int.from_bytes(min(prefixes), "big")
    return max(newest, clock.now_ts()) + ttl


def packed(keys: Sequence[bytes], *, ordered: bool) -> list[bytes]:
    """The keys in `PACK`-sized blobs; a key of the wrong size is a `StateError` here."""
    try:
        blob = joined(sorted(keys) if ordered else keys)
    except ValueError as exc:
        raise StateError(str(exc)) from None
    step = PACK * KEY_SIZE
    return [blob[i : i + step] for i in range(0, len(blob), step)]


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}
