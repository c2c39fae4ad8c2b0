"""Why lease renewals ran late: each suspected cause measured on its own.

    python -m bench.lease_causes [--rounds 25]

One moto server in its own process (as in the replica runs; in-process it would share
this process's GIL). A "renewal round" is the nine conditional writes a replica holding
nine leases makes. Each row times rounds under one condition:

* idle: moto with nothing else to do (its own per-call cost);
* serial lease thread: what the old single lease thread did per round (heartbeat, two
  queries, nine renewals, one take) before the last renewal was done;
* commits on the same client: four threads committing keys through the store's client
  (standard retries, 10 s read timeout) while renewals share it;
* commits, renewal on its own client: the same load, renewals on their own client;
* page parsing (GIL): two threads validating audit pages in this process;
* batched: the nine renewals as one TransactWriteItems, under the commit load.

Reported: round time p50 / p99 / max in ms.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from bench.live import footer, percentile, render
from connector.logtypes import REGISTRY
from connector.state.dynamodb import DynamoStore
from connector.state.keys import seen_key
from connector.state.options import DynamoDBOptions
from connector.state.table import Table, create_table, key
from tests.factories import audit

STREAMS = [(f"src{i}", lt) for i in range(3) for lt in ("audit", "access", "integration")]


@contextmanager
def moto_process() -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.moto_server", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        yield url
    finally:
        proc.kill()
        proc.wait(timeout=10)


def options(endpoint: str, table: str, **kw: Any) -> DynamoDBOptions:
    return DynamoDBOptions.model_validate(
        {"type": "dynamodb", "table": table, "region": "us-east-1", "endpoint_url": endpoint, **kw}
    )


def lease_item(stream: tuple[str, str], counter: int) -> dict[str, Any]:
    return {
        **key("L", f"{stream[0]}#{stream[1]}"),
        "owner": {"S": "me"},
        "epoch": {"N": "1"},
        "counter": {"N": str(counter)},
    }


class Renewer:
    """Nine conditional renewals, serially or as one transaction."""

    def __init__(self, table: Table, prefix: str) -> None:
        self.table = table
        self.counter = 0
        self.streams = [(f"{prefix}{s}", lt) for s, lt in STREAMS]
        for stream in self.streams:
            table.put(lease_item(stream, 0))

    def _cond(self) -> dict[str, Any]:
        return {
            "ConditionExpression": "#c = :c",
            "ExpressionAttributeNames": {"#c": "counter"},
            "ExpressionAttributeValues": {":c": {"N": str(self.counter)}},
        }

    def serial(self) -> None:
        for stream in self.streams:
            assert self.table.conditional(
                "put_item", Item=lease_item(stream, self.counter + 1), **self._cond()
            )
        self.counter += 1

    def batched(self) -> None:
        self.table.transact(
            [
                {
                    "Put": {
                        "TableName": self.table.name,
                        "Item": lease_item(s, self.counter + 1),
                        **self._cond(),
                    }
                }
                for s in self.streams
            ]
        )
        self.counter += 1

    def old_round(self) -> None:
        """Heartbeat, the lease and replica queries, the renewals, one failed take."""
        self.table.put({**key("R", "me"), "seen_at": {"N": str(int(time.time()))}})
        list(self.table.query("L", consistent=False))
        self.serial()
        list(self.table.query("R", consistent=False))
        self.table.conditional(
            "put_item",
            Item=lease_item(("other", "audit"), 1),
            ConditionExpression="attribute_not_exists(pk) OR #c = :c",
            ExpressionAttributeNames={"#c": "counter"},
            ExpressionAttributeValues={":c": {"N": "-1"}},
        )


class Load:
    """Background work in threads until stopped."""

    def __init__(self, work: Callable[[int, threading.Event], None], threads: int) -> None:
        self.stop = threading.Event()
        self.threads = [
            threading.Thread(target=work, args=(i, self.stop), daemon=True) for i in range(threads)
        ]

    def __enter__(self) -> Load:
        for t in self.threads:
            t.start()
        time.sleep(0.5)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=30)


def commits(store: DynamoStore) -> Callable[[int, threading.Event], None]:
    def work(i: int, stop: threading.Event) -> None:
        n = 0
        while not stop.is_set():
            keys = [seen_key(f"{i:04d}{n:028d}{j:04d}"[:32], 1_700_000_000 + j) for j in range(400)]
            store.commit(f"c{i}", "audit", keys=keys, checkpoint={"n": n})
            n += 1

    return work


def parsing(_: int, stop: threading.Event) -> None:
    logtype = REGISTRY["audit"]
    page = [audit(i, 1_700_000_000 + i) for i in range(200)]
    while not stop.is_set():
        for raw in page:
            logtype.validate_record(raw)


def timed(step: Callable[[], None], rounds: int) -> list[str]:
    took = []
    for _ in range(rounds):
        started = time.perf_counter()
        step()
        took.append((time.perf_counter() - started) * 1000)
        time.sleep(0.05)
    return [f"{percentile(took, 0.5):.0f}", f"{percentile(took, 0.99):.0f}", f"{max(took):.0f}"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=25)
    args = parser.parse_args()
    for k, v in {"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"}.items():
        os.environ.setdefault(k, v)
    started = time.perf_counter()
    rows: list[list[str]] = []
    with moto_process() as endpoint:
        opts = options(endpoint, f"causes-{uuid.uuid4().hex[:8]}")
        create_table(opts)
        shared = DynamoStore(opts, replica=False)
        own = Renewer(Table(opts), "own")
        via_shared = Renewer(shared.table, "shared")
        rows.append(["idle (moto per call x 9)", *timed(own.serial, args.rounds)])
        rows.append(["serial lease thread, idle", *timed(own.old_round, args.rounds)])
        with Load(commits(shared), 4):
            rows.append(["commits on the same client", *timed(via_shared.serial, args.rounds)])
            rows.append(["commits, renewal on own client", *timed(own.serial, args.rounds)])
            rows.append(["commits, serial lease thread", *timed(own.old_round, args.rounds)])
            rows.append(["commits, batched (1 transaction)", *timed(own.batched, args.rounds)])
        with Load(parsing, 2):
            rows.append(["page parsing x2 threads (GIL)", *timed(own.serial, args.rounds)])
            rows.append(["page parsing, batched", *timed(own.batched, args.rounds)])
        shared.close()
    print(render(["renewal round of 9 leases", "p50 ms", "p99 ms", "max ms"], rows))
    print(f"load average {os.getloadavg()[0]:.2f}; {footer(started)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
