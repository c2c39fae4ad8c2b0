"""What the search index costs the daemon: the audit backfill with and without it.

    python -m bench.index_ingest [--events 1000000] [--runs 2]

The real connector in a child interpreter against the fake Slack (`bench.run.Bench`),
writing to a local directory, once with `[output] search_index = false` and once with the
default (`true`), alternating for `--runs` rounds so a change of load falls on both. The
child's own CPU is the ingest (fetch, parse, validate, dedupe, enrich, batch, gzip, write,
commit); the fake Slack's is not in it. The difference of two runs moves with the load
beside them, so each on-run also times the index's build inside itself (in the thread
that builds it) and its import, given as a share of that run. Issue 24's target: the
index at most 10 % of ingest CPU. `bench.search` gives the narrower share against landing
alone (validate to write, no fetch), from objects generated without Slack.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from bench.run import Bench, Row, machine, print_pairs


def run(bench: Bench, size: int, search_index: bool) -> Row:
    row = bench.connector("audit", size, search_index=search_index)
    assert isinstance(row, Row)
    bench.rows.clear()
    return row


def timed_share(bench: Bench, row: Row) -> str:
    """The index's build timed inside the run, and its import, as a share of the run."""
    build, imported = bench.index_cpu
    share = (build + imported) / (row.cpu_s + imported)
    return f"timed inside: build {build:.2f} + import {imported:.2f} CPU s = {share:.1%}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m bench.index_ingest", description=__doc__.split("\n")[0]
    )
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=2)
    args = ap.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="slack-bench-index-"))
    bench = Bench(work)
    off: list[Row] = []
    on: list[Row] = []
    timed: list[str] = []
    try:
        print(f"machine: {machine()}", flush=True)
        bench.load_audit(args.events)
        for round_ in range(args.runs):
            for search_index, rows in ((False, off), (True, on)):
                row = run(bench, args.events, search_index)
                rows.append(row)
                if search_index:
                    timed.append(timed_share(bench, row))
                print(
                    f"round {round_ + 1}, index {'on ' if search_index else 'off'}: "
                    f"{row.cpu_s:.1f} CPU s, {row.wall_s:.1f} s, {row.events:,} events, "
                    f"{row.out_bytes:,} bytes, peak {row.peak_rss_mb:.0f} MB"
                    + (f"; {timed[-1]}" if search_index else ""),
                    flush=True,
                )
    finally:
        bench.close()
        shutil.rmtree(work, ignore_errors=True)
    assert {r.events for r in off} == {r.events for r in on}, "the runs landed different events"
    n = off[0].events
    pairs = [b.cpu_s / a.cpu_s - 1 for a, b in zip(off, on, strict=True)]
    least_off, least_on = min(r.cpu_s for r in off), min(r.cpu_s for r in on)
    rows = [
        ("events", f"{n:,}"),
        ("CPU s, index off (each run)", ", ".join(f"{r.cpu_s:.1f}" for r in off)),
        ("CPU s, index on (each run)", ", ".join(f"{r.cpu_s:.1f}" for r in on)),
        ("index's extra CPU, each round", ", ".join(f"{p:+.1%}" for p in pairs)),
        ("index's CPU timed inside each on-run", "; ".join(timed)),
        (
            "index's extra CPU, least of each",
            f"{least_on / least_off - 1:+.1%} ({(least_on - least_off) / n * 1e6:.2f} µs/event; "
            "target <= +10%)",
        ),
        (
            "bytes, off / on",
            f"{min(r.out_bytes for r in off):,} / {min(r.out_bytes for r in on):,}",
        ),
        (
            "peak RSS MB, off / on",
            f"{min(r.peak_rss_mb for r in off):.0f} / {min(r.peak_rss_mb for r in on):.0f}",
        ),
    ]
    print_pairs(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
