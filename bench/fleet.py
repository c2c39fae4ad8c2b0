"""Fleet: 1, 10 and 50 sources x three log types polling at once, each with a first-run
backlog (history to pull) and live events arriving every second.

    python -m bench.fleet [--sources 1,10,50] [--seconds 120,120,150] [--trace N]

The backlog is the held-out load of issue 19 (`HELD_OUT`: ~12,000 rows in ~415 hour and
day partitions per source). 200 sources of it take longer than the 10 minutes this
command is meant to last; the lighter backlog the table in docs/benchmarks.md measured at
200 sources is `--audit 2000 --access 1000 --integration 200 --audit-days 1`.

Each size is one `bench.daemon` child running the real scheduler for a few minutes
against one fake Slack in this process. Reported per size: peak RSS and steady RSS (the
median of the last third of the run), CPU seconds per source-hour over that last third,
the p99 delay between a poll's due time and its start (all polls, and the last third),
429s, and objects and rows per object per log type.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from bench.live import Backlog, footer, make_world, median, percentile, render, run_daemon, window
from bench.run import machine

HELD_OUT = Backlog(
    audit=9_200,
    access=2_500,
    integration=300,
    audit_days=6,
    access_days=90,
    integration_days=180,
)
"""The held-out load of issue 19: 50 sources wrote 20,053 objects of 29.9 rows on average
in their first run. 9,200 audit events over 6 days fill 144 hour partitions, 2,500 access
rows 91 day partitions and 300 integration records about 180: 12,000 rows in about 415
objects per source, 29 rows each."""

HEADERS = [
    "sources",
    "seconds",
    "polls",
    "peak RSS MB",
    "steady RSS MB",
    "CPU s/source-h",
    "p99 delay s",
    "p99 steady s",
    "requests",
    "429s",
    "audit obj",
    "rows/obj",
    "access obj",
    "rows/obj",
    "integr. obj",
    "rows/obj",
]


def measure(
    sources: int, seconds: float, backlog: Backlog, work: Path, trace: int = 0
) -> list[str]:
    world = make_world(sources, backlog)
    try:
        out = run_daemon(work / f"fleet-{sources}", world, seconds, trace=trace)
    finally:
        world.fake.stop()
    if trace:
        traced = out["traced"]
        print(
            f"  tracemalloc at its peak ({traced['peak_mb']:.0f} MB traced; RSS under "
            "tracemalloc is not the figure):",
            flush=True,
        )
        for where, mb, count in traced["top"]:
            print(f"    {mb:7.1f} MB {count:9,} blocks  {where}", flush=True)
    samples = out["samples"]
    steady = window(samples, seconds * 2 / 3)
    hours = (steady[-1]["t"] - steady[0]["t"]) / 3600 if len(steady) > 1 else 0
    cpu = (steady[-1]["cpu"] - steady[0]["cpu"]) / (sources * hours) if hours else 0.0
    delays = [d for _, d in out["delays"]]
    steady_delays = [d for t, d in out["delays"] if t >= seconds * 2 / 3]
    cells = [
        str(sources),
        f"{seconds:.0f}",
        str(len(delays)),
        f"{out['peak_rss_mb']:.0f}",
        f"{median(steady, 'VmRSS'):.0f}",
        f"{cpu:.1f}",
        f"{percentile(delays, 0.99):.2f}",
        f"{percentile(steady_delays, 0.99):.2f}",
        f"{out['requests']:,}",
        str(out["n429"]),
    ]
    for name in ("audit", "access", "integration"):
        objects, rows = out["objects"][name]
        cells += [f"{objects:,}", f"{rows / objects:,.0f}" if objects else "-"]
    print("  " + " ".join(f"{h}={c}" for h, c in zip(HEADERS, cells, strict=True)), flush=True)
    return cells


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.fleet", description=__doc__.split("\n")[0])
    ap.add_argument("--sources", default="1,10,50")
    ap.add_argument(
        "--seconds",
        default="120,120,150",
        help="run length per size (one value for all, or one per size)",
    )
    ap.add_argument("--audit", type=int, default=HELD_OUT.audit, help="audit backlog per source")
    ap.add_argument("--access", type=int, default=HELD_OUT.access)
    ap.add_argument("--integration", type=int, default=HELD_OUT.integration)
    ap.add_argument(
        "--audit-days",
        type=float,
        default=HELD_OUT.audit_days,
        help="days the audit backlog spreads over (one object per event hour)",
    )
    ap.add_argument("--access-days", type=float, default=HELD_OUT.access_days)
    ap.add_argument("--integration-days", type=float, default=HELD_OUT.integration_days)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument(
        "--trace",
        type=int,
        default=0,
        metavar="N",
        help="run under tracemalloc and print the N lines holding most at its peak",
    )
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sources.split(",")]
    lengths = [float(s) for s in args.seconds.split(",")]
    lengths = lengths * len(sizes) if len(lengths) == 1 else lengths
    backlog = Backlog(
        args.audit,
        args.access,
        args.integration,
        args.audit_days,
        args.access_days,
        args.integration_days,
    )
    work = Path(tempfile.mkdtemp(prefix="slack-fleet-"))
    started = time.perf_counter()
    print(f"machine: {machine()}", flush=True)
    print(
        f"backlog per source: {backlog}; live: 2 audit events/s, 1 access row and 1 "
        "integration record every 5 s; poll interval 60 s",
        flush=True,
    )
    try:
        rows = [
            measure(n, s, backlog, work, args.trace) for n, s in zip(sizes, lengths, strict=True)
        ]
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print()
    print(render(HEADERS, rows))
    print(footer(started))
    return 0


if __name__ == "__main__":
    sys.exit(main())
