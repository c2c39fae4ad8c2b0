"""Row ids and dedupe keys.

`p_row_id` is a hash of the source, log type and the record's natural key (an invalid
record's is a hash of its content), so the same event always gets the same id.

Its dedupe key is 16 bytes: 4 bytes of inverted event time, then 12 bytes of the row
id. Log types whose event time never changes (`LogType.time_keyed`) fill in the time;
the rest, and records without a usable time, get `NO_TIME` and are never forgotten by
age. Time first makes a backfill's keys arrive in key order, newest first, so the state
store appends them to its B-tree instead of dirtying a random page per key, and
forgetting old keys is one range delete.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

import orjson

from connector.logtypes.fields import as_ts

if TYPE_CHECKING:
    from connector.enrich import Source
    from connector.logtypes.base import LogType

NO_TIME = 0xFFFFFFFF
KEY_SIZE = 16
_NO_TIME_PREFIX = bytes(4)


def seen_key(rid: str, event_ts: float | None) -> bytes:
    """The dedupe key of row id `rid` (32 hex digits) for an event at `event_ts`."""
    return _time_prefix(event_ts) + bytes.fromhex(rid[:24])


def _time_prefix(event_ts: float | None) -> bytes:
    ts = NO_TIME if event_ts is None or not 0 <= event_ts < NO_TIME else int(event_ts)
    return (NO_TIME - ts).to_bytes(4, "big")


def forget_before(event_ts: int) -> bytes | None:
    """Keys at or above this bound have an event time before `event_ts`."""
    return (NO_TIME - event_ts + 1).to_bytes(4, "big") if 0 < event_ts < NO_TIME else None


class RowIds:
    """Ids of one source's records of one log type."""

    def __init__(self, source: Source, logtype: LogType) -> None:
        self._hash = hashlib.sha256(f"{source.id}\x1f{logtype.log_type}\x1f".encode())
        self._logtype = logtype
        self._time_field = logtype.event_time_field if logtype.time_keyed else None
        self._prefixes: dict[int, bytes] = {}

    def of(self, raw: dict[str, Any]) -> tuple[str, bytes]:
        """(row id, dedupe key) of a record, from its natural key."""
        return self._ids(self._logtype.dedupe_key(raw), raw)

    def of_invalid(self, raw: Any) -> tuple[str, bytes]:
        """(row id, dedupe key) of a record headed for quarantine, from its content."""
        try:
            canonical = orjson.dumps(raw, option=orjson.OPT_SORT_KEYS)
        except TypeError:
            canonical = repr(raw).encode()
        return self._ids("quarantine:" + hashlib.sha256(canonical).hexdigest(), raw)

    def _ids(self, natural: str, raw: Any) -> tuple[str, bytes]:
        digest = self._hash.copy()
        digest.update(natural.encode())
        raw_digest = digest.digest()
        return raw_digest[:16].hex(), self._prefix(raw) + raw_digest[:12]

    def _prefix(self, raw: Any) -> bytes:
        """The time part of a key, read before validation; events of a burst share it."""
        if self._time_field is None or not isinstance(raw, dict):
            return _NO_TIME_PREFIX
        value = raw.get(self._time_field)
        if value.__class__ is not int:
            return _time_prefix(as_ts(value))
        prefix = self._prefixes.get(value)
        if prefix is None:
            prefix = self._prefixes[value] = _time_prefix(value)
        return prefix
