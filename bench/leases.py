"""Failover and renewal lateness: 3 replicas x 10 sources, killed and stopped in turn.

    python -m bench.leases [--seconds 90] [--lease 6] [--burn 0] [--seed 19]

One row per run of `tests.chaos.coverage` (the chaos test's own harness, with ten
sources instead of three): failover is the time from a SIGKILL or SIGSTOP to the first
0.5 s coverage sample with all 30 streams held by a live replica again; lateness is how
long after it was due each renewal round of the replicas never stopped finished, read
from `slack_connector_lease_round_seconds` (so quoted as histogram bucket bounds).
`--burn N` adds N busy-loop processes. Why the rounds ran late before: `bench.lease_causes`.
"""

from __future__ import annotations

import argparse
import os
import random
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
    "burn",
    "events",
    "failover min",
    "median",
    "max",
    "bound",
    "late p50 <=",
    "late p99 <=",
    "expired",
    "exact",
    "load 1m",
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=90.0)
    parser.add_argument("--lease", type=float, default=6.0)
    parser.add_argument("--burn", type=int, default=0)
    parser.add_argument("--seed", type=int, default=19)
    parser.add_argument("--events", type=int, default=1000, help="backlog audit events")
    args = parser.parse_args()
    started = time.perf_counter()
    with moto_endpoint() as endpoint, burning(args.burn), tempfile.TemporaryDirectory() as tmp:
        coverage, result = run(
            Path(tmp),
            endpoint,
            seed=args.seed if args.seed is not None else random.randrange(2**31),
            seconds=args.seconds,
            lease_seconds=args.lease,
            events=args.events,
            sources=10,
            log=lambda line: None,
        )
        load = f"{os.getloadavg()[0]:.2f}"
    times = sorted(coverage.recoveries())
    late = coverage.lateness
    missed = len(coverage.events) - len(times)
    row = [
        "3 x 10",
        f"{args.lease:g}",
        str(args.burn),
        f"{len(coverage.events)} ({missed} never)" if missed else str(len(coverage.events)),
        f"{times[0]:.1f}" if times else "-",
        f"{times[len(times) // 2]:.1f}" if times else "-",
        f"{times[-1]:.1f}" if times else "-",
        f"{coverage.bound:.0f}",
        f"{percentile(late, 0.5):g}",
        f"{percentile(late, 0.99):g}",
        str(sum(coverage.expired.values())),
        "yes" if result.exact() else "NO",
        load,
    ]
    print(render(HEADERS, [row]))
    print(coverage.report())
    print(footer(started))
    return 0


if __name__ == "__main__":
    sys.exit(main())
