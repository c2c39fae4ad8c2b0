"""DynamoDB under faults: renewal lateness, conflicts and failed polls, one process and three.

    python -m bench.dynamodb_faults [--seconds 60] [--rate 0.05] [--replicas 1,3] [--seed 5]
        [--kinds throttle,error,conflict,reset,lost,slow]

One row per run of `tests.chaos.dynamo_faults` (the chaos test's own harness): replicas
polling three sources (nine streams, a backlog of 2,000 audit events each, live events)
with their state table behind `tests.fakes.dynamodb_proxy`, which gives `--rate` of the
requests a fault (throttle, 500, conflict, reset, answer lost after the write applied, a
transaction held 2-5 s) and refuses writes to items an in-flight transaction holds, as
DynamoDB does. Columns: requests the proxy saw and faults it injected; conflicts per minute
that came from contention (not injected); polls that failed (`poll failed`, `state store
failed`); renewal attempts that failed (`lease renewal failed`); leases that lapsed (`lease
expired before renewal`) and polls ended by one; how late renewal rounds finished (from
`slack_connector_lease_round_seconds`, so bucket upper bounds); the longest stretch with a
stream uncovered against the bound (2 leases + a poll); and whether every event landed
exactly once. `--kinds slow --rate 0.3` isolates the contention slow transactions cause.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

from bench.live import footer, percentile, render
from tests.chaos.dynamo_faults import run
from tests.fakes.dynamodb_proxy import KINDS
from tests.fakes.moto_server import moto_endpoint

HEADERS = [
    "replicas",
    "faults",
    "seconds",
    "requests",
    "injected",
    "conflicts/min",
    "failed polls",
    "renewal failed",
    "lapsed",
    "lapsed polls",
    "late p50 <=",
    "late p99 <=",
    "max gap s",
    "bound",
    "exact",
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=0.05)
    parser.add_argument("--replicas", default="1,3")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--kinds", default=",".join(KINDS), help="faults to draw from")
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    started = time.perf_counter()
    rows = []
    for n in (int(x) for x in args.replicas.split(",")):
        with moto_endpoint() as endpoint, tempfile.TemporaryDirectory() as tmp:
            done = run(
                Path(tmp),
                endpoint,
                replicas=n,
                rate=args.rate,
                seconds=args.seconds,
                seed=args.seed,
                kinds=tuple(args.kinds.split(",")),
            )
        lines = done.lines
        rows.append(
            [
                str(n),
                f"{args.rate:.0%}" + ("" if args.kinds == ",".join(KINDS) else f" {args.kinds}"),
                f"{done.seconds:.0f}",
                str(done.requests),
                str(done.injected),
                f"{done.conflicts_per_minute:.1f}",
                str(lines["failed polls"] + lines["state store failed"]),
                str(lines["renewal failed"]),
                str(lines["expired before renewal"]),
                str(lines["lease lapsed"]),
                f"{percentile(done.lateness, 0.5):g}",
                f"{percentile(done.lateness, 0.99):g}",
                f"{max(done.gaps, default=0.0):.1f}",
                f"{done.bound:.0f}",
                "yes" if done.exact() else "NO",
            ]
        )
        print(done.report(), file=sys.stderr)
    print(render(HEADERS, rows))
    print(footer(started))
    return 0


if __name__ == "__main__":
    sys.exit(main())
