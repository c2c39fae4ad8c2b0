"""Row ids, and the dedupe key of each row.

`p_row_id` is a hash of the source (with Enterprise Grid, its workspace), log type and the
record's natural key (an invalid
record's is a hash of its content), so the same event always gets the same id. Its dedupe
key is the time prefix of `connector.state.keys` followed by 12 bytes of the row id; log
types whose event time never changes (`LogType.time_keyed`) fill in the time, the rest
get `NO_TIME`.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

import orjson

from connector.logtypes.fields import as_ts
from connector.state.keys import NO_TIME_PREFIX, time_prefix

if TYPE_CHECKING:
    from connector.ingest.enrich import Source
    from connector.logtypes.base import LogType


class RowIds:
    """Ids of one source's records of one log type."""

    def __init__(self, source: Source, logtype: LogType) -> None:
        self._hash = hashlib.sha256(f"{source.stream}\x1f{logtype.log_type}\x1f".encode())
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
            return NO_TIME_PREFIX
        value = raw.get(self._time_field)
        if value.__class__ is not int:
            return time_prefix(as_ts(value))
        prefix = self._prefixes.get(value)
        if prefix is None:
            prefix = self._prefixes[value] = time_prefix(value)
        return prefix
