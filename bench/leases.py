"""Failover: 3 replicas, killed and stopped in turn; how long until every stream is held again.

    python -m bench.leases [--kills 20] [--stops 10] [--lease 6] [--poll 2] [--sources 3]
                           [--burn 0] [--seed 19]

One run of `tests.chaos.coverage` (the chaos test's own harness: busy replicas with a
backlog, live events and S3 uploads): failover is the time from a SIGKILL or SIGSTOP to the
first 0.5 s coverage sample, read from the replicas' `/metrics`, with every stream held by
a live replica again. The second table splits each failover's timeline, read back from the
replicas' logs (`tests.chaos.timeline`): kill → the taker first read the lease's last value
("to seen"; negative when that was before the kill) → it stood still for a lease period
("watched") → the take was sent ("to decide", after it became takeable) → its write returned
("take") → `/metrics` showed every stream ("to metric") and the taker's first poll started
("to poll") and ran ("poll"); per step p50, p99, max, and in the slowest failover. Lateness is
how long after it was due each renewal round of the replicas never stopped finished.
Timings on a shared host are pessimistic: the load average is quoted with the figures.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from bench.live import footer, percentile, render
from tests.chaos.coverage import burning, run
from tests.fakes.moto_server import moto_endpoint

HEADERS = [
    "replicas x sources",
    "lease s",
    "poll s",
    "burn",
    "kills+stops",
    "failover p50",
    "p99",
    "max",
    "bound",
    "late p99 <=",
    "expired",
    "exact",
    "load 1m at events",
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--stops", type=int, default=10)
    parser.add_argument("--lease", type=float, default=6.0)
    parser.add_argument("--poll", type=int, default=2)
    parser.add_argument("--sources", type=int, default=3)
    parser.add_argument("--burn", type=int, default=0)
    parser.add_argument("--seed", type=int, default=19)
    parser.add_argument("--events", type=int, default=5000, help="backlog audit events")
    args = parser.parse_args()
    started = time.perf_counter()
    with moto_endpoint() as endpoint, burning(args.burn), tempfile.TemporaryDirectory() as tmp:
        coverage, result = run(
            Path(tmp),
            endpoint,
            seed=args.seed,
            kills=args.kills,
            stops=args.stops,
            lease_seconds=args.lease,
            poll=args.poll,
            events=args.events,
            sources=args.sources,
            log=lambda line: None,
        )
    times = coverage.recoveries()
    missed = len(coverage.events) - len(times)
    loads = [e.load for e in coverage.events]
    row = [
        f"3 x {args.sources}",
        f"{args.lease:g}",
        str(args.poll),
        str(args.burn),
        f"{args.kills}+{args.stops}" + (f" ({missed} never)" if missed else ""),
        f"{percentile(times, 0.5):.1f}",
        f"{percentile(times, 0.99):.1f}",
        f"{max(times, default=0):.1f}",
        f"{coverage.bound:g}",
        f"{percentile(coverage.lateness, 0.99):g}",
        str(sum(coverage.expired.values())),
        "yes" if result.exact() else "NO",
        f"{min(loads, default=0):.2f}-{max(loads, default=0):.2f}",
    ]
    print(render(HEADERS, [row]))
    print()
    print(result.report())
    print(coverage.report())
    print(footer(started))
    return 0


if __name__ == "__main__":
    sys.exit(main())
