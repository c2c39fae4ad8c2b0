"""A DynamoDB fault proxy on 127.0.0.1, in front of moto: DynamoDB as it answers under stress.

Each request is passed to moto, or, at `rate`, meets one fault that DynamoDB gives:

* `throttle`: 400 `ThrottlingException` (nothing written);
* `error`: 500 `InternalServerError` (nothing written);
* `conflict`: a write answered `TransactionConflictException`, a transaction cancelled
  with `TransactionConflict` for one item and `None` for the others (nothing written);
* `reset`: the connection reset before the request reached the table;
* `lost`: the request applied, then the connection reset before the answer (a commit
  whose answer was lost: the client cannot tell it from `reset`);
* `slow`: a transaction held 2-5 s (`slow_seconds`) before it is applied.

Besides the injected ones, the proxy makes the conflicts real DynamoDB makes: while a
transaction is in flight here (slow or not), it holds its items, and any other write to
one of them is refused as a conflict, as DynamoDB refuses it. Those are counted as
`contention` per kind of request that met them, which is what `bench.dynamodb_faults`
reports as conflicts per minute.

Faults are drawn from a seeded generator; which request meets which depends on thread
timing, so runs are repeatable in rate, not request by request.
"""

from __future__ import annotations

import random
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import orjson

KINDS = ("throttle", "error", "conflict", "reset", "lost", "slow")
WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems"})
_TYPE = "com.amazonaws.dynamodb.v20120810#"
Key = tuple[str, str, str]


class DynamoFaultProxy:
    def __init__(
        self,
        upstream: str,
        *,
        rate: float = 0.0,
        kinds: Iterable[str] = KINDS,
        seed: int = 0,
        slow_seconds: tuple[float, float] = (2.0, 5.0),
    ) -> None:
        self.upstream = upstream.rstrip("/")
        self.rate = rate
        self.kinds = tuple(kinds)
        self.slow_seconds = slow_seconds
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._held: Counter[Key] = Counter()
        self.requests: Counter[str] = Counter()
        self.injected: Counter[str] = Counter()
        self.contention: Counter[str] = Counter()
        self.contended: Counter[str] = Counter()
        """Contention conflicts by the kind of item met (`L` lease, `F` fence, `K` keys...)."""
        self._http = httpx.Client(timeout=60, limits=httpx.Limits(max_connections=64))
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self.started = time.monotonic()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> DynamoFaultProxy:
        self._thread.start()
        self.started = time.monotonic()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._http.close()

    def begin(self, rate: float) -> None:
        """Start a measured stretch: faults at `rate` from now, every count from zero."""
        with self._lock:
            for counter in (self.requests, self.injected, self.contention, self.contended):
                counter.clear()
            self.rate = rate
            self.started = time.monotonic()

    def summary(self) -> str:
        minutes = max(1e-9, (time.monotonic() - self.started) / 60)
        return (
            f"requests {sum(self.requests.values())}; injected {dict(sorted(self.injected.items()))}"
            f"; contention conflicts {dict(sorted(self.contention.items()))} "
            f"({sum(self.contention.values()) / minutes:.1f}/min) on items "
            f"{dict(sorted(self.contended.items()))}"
        )

    # -- deciding

    def _fault(self, target: str) -> str | None:
        fits = [k for k in self.kinds if _applies(k, target)]
        with self._lock:
            self.requests[target] += 1
            if not fits or self._rng.random() >= self.rate:
                return None
            kind = self._rng.choice(fits)
            self.injected[kind] += 1
            return kind

    def _slow(self) -> float:
        with self._lock:
            return self._rng.uniform(*self.slow_seconds)

    def _hold(self, target: str, keys: list[Key]) -> list[int] | None:
        """Take the items of a write; None if taken, else which of them were busy."""
        with self._lock:
            busy = [i for i, k in enumerate(keys) if self._held[k]]
            if busy:
                self.contention[target] += 1
                self.contended.update(keys[i][1].split("#")[0] for i in busy)
                return busy
            if target == "TransactWriteItems":
                self._held.update(keys)
            return None

    def _release(self, keys: list[Key]) -> None:
        with self._lock:
            self._held.subtract(keys)
            for k in keys:
                if self._held[k] <= 0:
                    del self._held[k]

    # -- serving

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                target = self.headers.get("X-Amz-Target", "").rpartition(".")[2]
                fault = proxy._fault(target)
                if fault == "reset":
                    return self._reset()
                if fault == "throttle":
                    return self._error(400, "ThrottlingException", "Rate exceeded")
                if fault == "error":
                    return self._error(500, "InternalServerError", "Internal server error")
                keys = _keys(target, body) if target in WRITES else []
                if fault == "conflict":
                    return self._conflict(target, [0] if keys else [], len(keys))
                busy = proxy._hold(target, keys) if keys else None
                if busy is not None:
                    return self._conflict(target, busy, len(keys))
                try:
                    if fault == "slow":
                        time.sleep(proxy._slow())
                    answer = proxy._http.post(
                        proxy.upstream + self.path, content=body, headers=self._forwarded()
                    )
                finally:
                    if target == "TransactWriteItems":
                        proxy._release(keys)
                if fault == "lost":
                    return self._reset()
                self._send(answer.status_code, answer.content, answer.headers.get("content-type"))

            def _forwarded(self) -> dict[str, str]:
                skip = {"host", "content-length", "connection", "accept-encoding"}
                return {k: v for k, v in self.headers.items() if k.lower() not in skip}

            def _conflict(self, target: str, busy: list[int], items: int) -> None:
                if target != "TransactWriteItems":
                    return self._error(
                        400, "TransactionConflictException", "Transaction is ongoing"
                    )
                reasons = [
                    {"Code": "TransactionConflict", "Message": "Transaction is ongoing"}
                    if i in busy
                    else {"Code": "None"}
                    for i in range(items)
                ]
                codes = ", ".join(r["Code"] for r in reasons)
                self._error(
                    400,
                    "TransactionCanceledException",
                    f"Transaction cancelled, please refer cancellation reasons [{codes}]",
                    CancellationReasons=reasons,
                )

            def _error(self, status: int, code: str, message: str, **extra: Any) -> None:
                body = orjson.dumps({"__type": _TYPE + code, "message": message, **extra})
                self._send(status, body, "application/x-amz-json-1.0")

            def _send(self, status: int, body: bytes, content_type: str | None) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", content_type or "application/x-amz-json-1.0")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except ConnectionError:  # the client gave up waiting (its read timeout)
                    self.close_connection = True

            def _reset(self) -> None:
                """Close with RST, no answer: what a dropped connection looks like."""
                self.close_connection = True
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )

        return Handler


def _applies(kind: str, target: str) -> bool:
    if kind in ("conflict", "lost"):
        return target in WRITES
    if kind == "slow":
        return target == "TransactWriteItems"
    return True


def _keys(target: str, body: bytes) -> list[Key]:
    """The items a write touches, in request order (a transaction's in its own order)."""
    request = orjson.loads(body)
    if target != "TransactWriteItems":
        return [_key(request["TableName"], request.get("Item") or request.get("Key", {}))]
    out = []
    for action in request.get("TransactItems", []):
        (step,) = action.values()
        out.append(_key(step["TableName"], step.get("Item") or step.get("Key", {})))
    return out


def _key(table: str, item: dict[str, Any]) -> Key:
    return (table, str(item.get("pk", {}).get("S")), str(item.get("sk", {}).get("S")))
