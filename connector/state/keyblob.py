"""Dedupe keys laid end to end in one blob, as both state stores keep them on disk.

Keys are fixed-size (`KEY_SIZE`), so a blob of them needs no framing: the SQLite store
keeps an intent's row keys in one column and hands a batch's keys to SQLite in one
parameter, and the DynamoDB store keeps them in packs' binary attributes. Splitting is
the same for both, so it lives here once.
"""

from __future__ import annotations

from connector.state.base import Keys
from connector.state.keys import KEY_SIZE


def joined(keys: Keys) -> bytes:
    """The keys as one blob, in their order; a key of the wrong size is a `ValueError`."""
    blob = b"".join(keys)
    if len(blob) != KEY_SIZE * len(keys):
        raise ValueError(f"dedupe keys must be {KEY_SIZE} bytes")
    return blob


def split(blob: bytes) -> list[bytes]:
    return [blob[i : i + KEY_SIZE] for i in range(0, len(blob), KEY_SIZE)]
