"""Soak: an accelerated day. Three sources x three log types poll every second (a day of
one-minute polls in 24 minutes) for 30 minutes, with live events and each source's
token rotated in its file every minute; rate budgets are scaled by the same 60x.

    python -m bench.soak [--minutes 30] [--sources 3] [--warmup 5]

Printed: RSS, open file descriptors, threads, state-file size and polls at each mark,
then the growth after warm-up. Garbage that piled up (the interpreter tuning in
`connector.service.app.tune_interpreter` makes full collections rare) would show here as RSS
that keeps growing.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from bench.live import Backlog, footer, make_world, render, run_daemon, window
from bench.run import machine

HEADERS = [
    "minute",
    "polls",
    "RSS MB",
    "peak RSS MB",
    "fds",
    "threads",
    "state MB",
    "CPU s",
    "gc objects",
    "collections",
]


def _objects(counted: list[dict[str, float]], start: float) -> str:
    after = window(counted, start)
    if not after:
        return "-"
    return f"{after[0]['gc_objects']:,.0f} -> {after[-1]['gc_objects']:,.0f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--sources", type=int, default=3)
    ap.add_argument("--warmup", type=float, default=5, help="minutes before the baseline")
    ap.add_argument("--every", type=float, default=5, help="minutes between table rows")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="slack-soak-"))
    started = time.perf_counter()
    print(f"machine: {machine()}", flush=True)
    world = make_world(args.sources, Backlog())
    world.rotate_every_seconds = 60
    try:
        out = run_daemon(
            work / "soak",
            world,
            args.minutes * 60,
            poll_interval=1,
            token_files=True,
            overrides={"audit_calls_per_minute": 3000, "web_calls_per_minute": 1200},
            count_objects=True,
        )
    finally:
        world.fake.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    samples = out["samples"]
    marks = [args.warmup * 60 + i * args.every * 60 for i in range(1000)]
    rows = []
    counted = [s for s in samples if "gc_objects" in s]
    for mark in [m for m in marks if m <= samples[-1]["t"]] + [samples[-1]["t"]]:
        s = window(samples, mark)[0]
        g = (window(counted, mark) or counted[-1:] or [{}])[0]
        rows.append(
            [
                f"{s['t'] / 60:.1f}",
                f"{s['polls']:,.0f}",
                f"{s['VmRSS']:.1f}",
                f"{s['VmHWM']:.1f}",
                f"{s['fds']:.0f}",
                f"{s['Threads']:.0f}",
                f"{s['state_bytes'] / 1e6:.2f}",
                f"{s['cpu']:.0f}",
                f"{g.get('gc_objects', 0):,}",
                f"{g.get('gc_collections', 0):,}",
            ]
        )
    after = window(samples, args.warmup * 60)
    base, end = after[0], after[-1]
    print()
    print(render(HEADERS, rows))
    print()
    print(
        f"after warm-up ({args.warmup:g} min) to the end ({end['t'] / 60:.1f} min): "
        f"RSS {base['VmRSS']:.1f} -> {end['VmRSS']:.1f} MB "
        f"({end['VmRSS'] - base['VmRSS']:+.1f} MB; max {max(s['VmRSS'] for s in after):.1f}), "
        f"fds {min(s['fds'] for s in after):.0f}..{max(s['fds'] for s in after):.0f}, "
        f"threads {min(s['Threads'] for s in after):.0f}..{max(s['Threads'] for s in after):.0f}, "
        f"state file {base['state_bytes'] / 1e6:.2f} -> {end['state_bytes'] / 1e6:.2f} MB, "
        f"gc-tracked objects {_objects(counted, args.warmup * 60)}; "
        f"{len(out['delays']):,} polls, {world.rotations} token rotations, "
        f"{out['requests']:,} requests, {out['n429']} x 429, "
        f"objects (rows) per log type: "
        + ", ".join(f"{k} {o:,} ({r:,})" for k, (o, r) in out["objects"].items())
    )
    print(footer(started))
    return 0


if __name__ == "__main__":
    sys.exit(main())
