"""The dedupe key the state stores keep: 16 bytes, 4 of inverted event time, then 12 of
the row id (`connector.ingest.identity` computes both).

Records without a usable time get `NO_TIME` and are never forgotten by age. Time first
makes a backfill's keys arrive in key order, newest first, so a store appends them to its
B-tree instead of dirtying a random page per key, and forgetting old keys is one range
delete (`forget_before`).
"""

from __future__ import annotations

NO_TIME = 0xFFFFFFFF
KEY_SIZE = 16
NO_TIME_PREFIX = bytes(4)


def seen_key(rid: str, event_ts: float | None) -> bytes:
    """The dedupe key of row id `rid` (32 hex digits) for an event at `event_ts`."""
    return time_prefix(event_ts) + bytes.fromhex(rid[:24])


def time_prefix(event_ts: float | None) -> bytes:
    ts = NO_TIME if event_ts is None or not 0 <= event_ts < NO_TIME else int(event_ts)
    return (NO_TIME - ts).to_bytes(4, "big")


def forget_before(event_ts: int) -> bytes | None:
    """Keys at or above this bound have an event time before `event_ts`."""
    return (NO_TIME - event_ts + 1).to_bytes(4, "big") if 0 < event_ts < NO_TIME else None
