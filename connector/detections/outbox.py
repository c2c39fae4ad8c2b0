"""A source's anomaly rows of the poll under way, kept in the state store until their
alerts went out, so a process that dies mid-poll leaves them to the next poll.

Stored as a head item (`token`, how many chunks, whether sent) and chunks of at most
`CHUNK` rows: a burst of anomalies in one poll never makes an item larger than
DynamoDB's 400 KB limit. Chunk keys are reused poll after poll, so the outbox never
holds more items than its largest poll needed.
"""

from __future__ import annotations

import secrets
from typing import Any

from connector.state import StateStore

CHUNK = 50
"""Rows per item: an audit row is one to a few KB."""
Row = dict[str, Any]


class Outbox:
    def __init__(self, store: StateStore, source_id: str) -> None:
        self._store = store
        self.key = f"detections:anomaly:outbox:{source_id}"
        head = store.detection_value(self.key) or {}
        self.token = str(head.get("token") or secrets.token_hex(8))
        """Names this outbox in the marks its anomalies set (`by`)."""
        self.sent = bool(head.get("sent"))
        self._chunks: list[list[Row]] = [
            list((store.detection_value(f"{self.key}:{i}") or {}).get("rows", []))
            for i in range(int(head.get("chunks", 0)))
        ]
        self.rows: dict[str, Row] = {str(r.get("id")): r for c in self._chunks for r in c}

    def add(self, rows: dict[str, Row]) -> None:
        """Store these rows (by event id) before any of them is marked."""
        fresh = {k: r for k, r in rows.items() if k not in self.rows}
        if not fresh:
            return
        first = max(len(self._chunks) - 1, 0)
        if not self._chunks:
            self._chunks.append([])
        for row in fresh.values():
            if len(self._chunks[-1]) >= CHUNK:
                self._chunks.append([])
            self._chunks[-1].append(row)
        for i in range(first, len(self._chunks)):
            self._store.set_detection_value(f"{self.key}:{i}", {"rows": self._chunks[i]})
        self.rows.update(fresh)
        self._head(sent=False)

    def mark_sent(self) -> None:
        self._head(sent=True)

    def clear(self) -> None:
        """Empty (the chunks too, so the rows are not kept past their poll)."""
        self._store.set_detection_value(self.key, {})
        for i in range(len(self._chunks)):
            self._store.set_detection_value(f"{self.key}:{i}", {})

    def _head(self, *, sent: bool) -> None:
        self.sent = sent
        head = {"token": self.token, "chunks": len(self._chunks), "sent": sent}
        self._store.set_detection_value(self.key, head)
