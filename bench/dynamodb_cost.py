"""DynamoDB read and write units of the shared state store, per 1,000 events and per idle
source-hour.

    python -m bench.dynamodb_cost [--events 20000] [--trickle 50]

Runs the real connector (`App.poll`) against the fake Slack and moto's DynamoDB server on
127.0.0.1, and reads the units the store metered from DynamoDB's sizing rules (moto does
not meter): a write unit per KB of item written or deleted, doubled in a transaction; a
read unit per 4 KB read, halved for eventually consistent reads.

* bulk: a first run that lands `--events` records of each log type in 10,000-event batches;
* trickle: polls that each land `--trickle` new audit events (steady state);
* idle: polls that land nothing, plus the lease rounds (heartbeat, lease query, renewals)
  that keep a source's three leases, both extrapolated to one hour at the default
  `poll_interval_seconds = 60` and `lease_seconds = 30` (a round every 10 s).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from connector.config.load import parse
from connector.service.app import App
from connector.state.dynamodb import DynamoStore
from tests.factories import access, audit, integration
from tests.fakes.slack_server import FakeSlack

TOKEN = "xoxp-bench-token"
TOKEN_ENV = "SLACK_BENCH_TOKEN"
POLLS_PER_HOUR = 60
ROUNDS_PER_HOUR = 360


def _settings(tmp: Path, endpoint: str, slack: FakeSlack, sources: int) -> Any:
    return parse(
        {
            "state": {
                "type": "dynamodb",
                "table": f"bench-{uuid.uuid4().hex[:10]}",
                "region": "us-east-1",
                "endpoint_url": endpoint,
                "lease_seconds": 3600,  # rounds are driven by hand below
            },
            "output": {"type": "local", "path": str(tmp / "out")},
            "metrics": {"enabled": False},
            "sources": [
                {
                    "id": f"src{i}",
                    "token_env": TOKEN_ENV,
                    "audit_api_url": slack.audit_api_url,
                    "web_api_url": slack.web_api_url,
                    "audit_calls_per_minute": 1e6,
                    "web_calls_per_minute": 1e6,
                    "first_run_lookback_seconds": 86_400,
                }
                for i in range(sources)
            ],
        }
    )


class Meter:
    def __init__(self, store: DynamoStore) -> None:
        self.capacity = store.table.capacity
        self.mark()

    def mark(self) -> None:
        self._r, self._w = self.capacity.read, self.capacity.write

    def delta(self) -> tuple[float, float]:
        r, w = self.capacity.read - self._r, self.capacity.write - self._w
        self.mark()
        return r, w


def run(endpoint: str, events: int, trickle: int) -> list[tuple[str, str, float, float]]:
    rows: list[tuple[str, str, float, float]] = []
    now = int(time.time())
    with tempfile.TemporaryDirectory() as tmp, FakeSlack(tokens=(TOKEN,)) as slack:
        slack.add_audit(audit(i, now - 3600 + i * 3000 // events) for i in range(events))
        slack.add_access(
            access(
                f"U{i % 500:05d}", f"10.{i // 65536}.{i // 256 % 256}.{i % 256}", "Slack", now - 600
            )
            for i in range(events)
        )
        slack.add_integration(
            integration(i, now - 3000 + i * 2000 // events) for i in range(events)
        )
        settings = _settings(Path(tmp), endpoint, slack, 1)
        settings.state.init()
        app = App(settings)
        store = app.store
        assert isinstance(store, DynamoStore)
        try:
            app.claim()
            meter = Meter(store)
            for log_type in ("audit", "access", "integration"):
                out = app.poll("src0", log_type)
                assert out.ok and out.result is not None, out
                r, w = meter.delta()
                per = 1000 / max(1, out.result.written)
                rows.append((f"bulk {log_type}", f"{out.result.written} events", r * per, w * per))
            landed = 0
            for n in range(10):
                slack.add_audit(
                    audit(events + n * trickle + i, int(time.time()) - 1) for i in range(trickle)
                )
                out = app.poll("src0", "audit")
                assert out.ok and out.result is not None, out
                landed += out.result.written
            r, w = meter.delta()
            rows.append(
                (
                    "trickle audit",
                    f"10 polls, {landed} events",
                    r * 1000 / landed,
                    w * 1000 / landed,
                )
            )
            polls = 5
            for _ in range(polls):
                for log_type in ("audit", "access", "integration"):
                    out = app.poll("src0", log_type)
                    assert out.ok and out.result is not None and out.result.written == 0, out
            r, w = meter.delta()
            idle_r, idle_w = r / polls * POLLS_PER_HOUR, w / polls * POLLS_PER_HOUR
            rows.append(("idle polls", "3 log types, per hour", idle_r, idle_w))
            assert store.leases is not None
            for _ in range(5):
                store.leases.round()
            r, w = meter.delta()
            lr, lw = r / 5 * ROUNDS_PER_HOUR, w / 5 * ROUNDS_PER_HOUR
            rows.append(("idle leases", "1 source per replica, per hour", lr, lw))
            rows.append(("idle total", "per source-hour", idle_r + lr, idle_w + lw))
        finally:
            app.close()
    return rows


def table(rows: list[tuple[str, str, float, float]]) -> str:
    head = f"{'scenario':<16}{'what':<32}{'RCU':>10}{'WCU':>10}"
    lines = [head, "-" * len(head)]
    for name, what, r, w in rows:
        lines.append(f"{name:<16}{what:<32}{r:>10.1f}{w:>10.1f}")
    lines.append("bulk and trickle rows: units per 1,000 events written; idle rows: per hour")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--trickle", type=int, default=50)
    args = parser.parse_args()
    os.environ.setdefault(TOKEN_ENV, TOKEN)
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ.setdefault(key, "testing")
    from tests.fakes.moto_server import moto_endpoint

    with moto_endpoint() as endpoint:
        print(table(run(endpoint, args.events, args.trickle)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
