"""DynamoDB under stress: replicas whose state table answers through a fault proxy.

One process or several `slack-connector run` replicas share sources through a table in
moto, reached through `tests.fakes.dynamodb_proxy`: a fraction of requests is throttled,
fails with 500, meets a conflict, is reset, has its answer lost after it applied, or (a
transaction) is held 2-5 s, and writes that meet an in-flight transaction's items are
refused as DynamoDB refuses them. S3 and Slack answer normally. Nobody is killed.

Judged afterwards: every event lands exactly once; no poll failed (every fault is one a
client may retry); coverage, sampled every 0.5 s from each replica's `/metrics`, never
stays short of every stream for longer than 2 lease periods + one poll; and the counts
an operator would watch: conflicts per minute, lapsed leases, renewal lateness.

    python -m tests.chaos.dynamo_faults [--replicas 3] [--rate 0.05] [--seconds 60]
"""

from __future__ import annotations

import argparse
import logging
import random
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.chaos.coverage import Coverage, MetricFleet, Sampler, late_rounds, start_fleet
from tests.chaos.replicas import LOG_TYPES, Knobs, Result, Stage
from tests.fakes.dynamodb_proxy import KINDS, DynamoFaultProxy
from tests.fakes.moto_server import moto_endpoint

LINES = {
    "failed polls": "poll failed",
    "state store failed": "state store failed",
    "lease lapsed": "poll ended: lease lapsed",
    "lease moved": "lease moved to another replica",
    "expired before renewal": "lease expired before renewal",
    "renewal failed": "lease renewal failed",
    "status not recorded": "poll status not recorded",
}


@dataclass
class Run:
    replicas: int
    rate: float
    seconds: float
    bound: float
    proxy: str
    conflicts_per_minute: float
    injected: int
    requests: int
    gaps: list[float]
    lateness: list[float]
    contended: dict[str, int] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)
    result: Result | None = None

    def exact(self) -> bool:
        return self.result is not None and self.result.exact()

    def report(self) -> str:
        out = [
            f"{self.replicas} replica(s), {self.rate:.0%} faults, {self.seconds:.0f}s: {self.proxy}",
            f"coverage gaps (s): {[round(g, 1) for g in self.gaps]}; bound {self.bound:.0f}s",
            f"log lines: {self.lines}",
        ]
        if self.result is not None:
            out.append(self.result.report())
        return "\n".join(out)


def gaps(coverage: Coverage, since: float) -> list[float]:
    """How long each stretch of samples short of every stream lasted, after `since`."""
    out: list[float] = []
    short: float | None = None
    for s in coverage.samples:
        if s.at < since or s.unanswered:
            continue  # a sample with a scrape unanswered says nothing either way
        if s.covered < coverage.streams:
            short = s.at if short is None else short
        elif short is not None:
            out.append(s.at - short)
            short = None
    if short is not None and coverage.samples:
        out.append(coverage.samples[-1].at - short)
    return out


def run(
    workdir: Path,
    endpoint: str,
    *,
    replicas: int = 3,
    rate: float = 0.05,
    seconds: float = 60.0,
    seed: int = 5,
    lease_seconds: float = 6.0,
    sources: int = 3,
    events: int = 2000,
    kinds: tuple[str, ...] = KINDS,
) -> Run:
    knobs = Knobs(
        sources=sources,
        replicas=replicas,
        lease_seconds=lease_seconds,
        renew_seconds=lease_seconds / 3,
        page_size=200,
        batch_max_events=200,
    )
    streams = knobs.sources * len(LOG_TYPES)
    coverage = Coverage(lease_seconds, knobs.poll_interval, streams)
    with (
        DynamoFaultProxy(endpoint, rate=0.0, kinds=kinds, seed=seed) as proxy,
        Stage(workdir, endpoint, knobs, seed=seed, state_endpoint=proxy.url) as stage,
    ):
        fleet = start_fleet(stage, workdir, events, random.Random(seed))
        with Sampler(fleet, coverage):
            proxy.begin(rate)
            started = proxy.started
            since = time.time()
            time.sleep(seconds)
            proxy.rate = 0.0
            elapsed = time.monotonic() - started
            summary = proxy.summary()
            contention = sum(proxy.contention.values())
            contended = dict(proxy.contended)
            injected, requests = sum(proxy.injected.values()), sum(proxy.requests.values())
            lateness = []
            for inc in fleet.live.values():
                lateness += _late(fleet, inc.replica_id)
        result = stage.finish()
    out = Run(
        replicas=replicas,
        rate=rate,
        seconds=elapsed,
        bound=coverage.bound,
        proxy=summary,
        conflicts_per_minute=contention / (elapsed / 60),
        injected=injected,
        requests=requests,
        gaps=gaps(coverage, since),
        lateness=lateness,
        contended=contended,
        result=result,
    )
    for name, message in LINES.items():
        out.lines[name] = sum(len(fleet.log_lines(inc, message)) for inc in fleet.all)
    return out


def _late(fleet: MetricFleet, replica: str) -> list[float]:
    import httpx

    try:
        body = httpx.get(f"http://127.0.0.1:{fleet.ports[replica]}/metrics", timeout=2).text
    except httpx.HTTPError:
        return []
    return late_rounds(body)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--rate", type=float, default=0.05)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per moto request
    with moto_endpoint() as endpoint, tempfile.TemporaryDirectory() as tmp:
        done = run(
            Path(tmp),
            endpoint,
            replicas=args.replicas,
            rate=args.rate,
            seconds=args.seconds,
            seed=args.seed,
        )
    print(done.report())
    ok = done.exact() and not done.lines["failed polls"] and not done.lines["state store failed"]
    return 0 if ok and all(g <= done.bound for g in done.gaps) else 1


if __name__ == "__main__":
    sys.exit(main())
