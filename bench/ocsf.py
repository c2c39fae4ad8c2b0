"""What the OCSF output costs: the audit backfill with and without `[ocsf] enabled`.

    python -m bench.ocsf [--events 1000000] [--runs 1]

Both runs are the real connector in a child interpreter against the fake Slack
(`bench.run.Bench`), writing raw objects to a local directory, the OCSF run also its
Parquet lake beside them; neither writes the search index (`[output] search_index`, on
by default), so the extra is the OCSF output's against the raw NDJSON alone. The row:
extra CPU per event, peak RSS of each run and the difference, and bytes written per
event (gzip NDJSON against OCSF Parquet). Targets
(issue 29): at most 25 % extra CPU, and no extra peak beyond one batch's Parquet buffer.
With `--runs N` each configuration runs N times and the lowest CPU and peak are kept.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from bench.run import Bench, Row, machine, print_pairs


def best(bench: Bench, size: int, runs: int, ocsf: bool) -> tuple[Row, int]:
    rows, lake = [], 0
    for _ in range(runs):
        row = bench.connector("audit", size, ocsf=ocsf, search_index=False)
        assert isinstance(row, Row)
        rows.append(row)
        lake = bench.lake_bytes
        bench.rows.clear()
    return min(rows, key=lambda r: r.cpu_s), lake


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.ocsf", description=__doc__.split("\n")[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=1)
    args = ap.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="slack-bench-ocsf-"))
    bench = Bench(work)
    try:
        print(f"machine: {machine()}", flush=True)
        bench.load_audit(args.events)
        raw, _ = best(bench, args.events, args.runs, ocsf=False)
        both, lake = best(bench, args.events, args.runs, ocsf=True)
    finally:
        bench.close()
        shutil.rmtree(work, ignore_errors=True)
    n = args.events
    extra_cpu = both.cpu_s / raw.cpu_s - 1
    rows = [
        ("events", f"{n:,}"),
        ("CPU s/1M ev, raw only", f"{raw.cpu_s / n * 1e6:.1f}"),
        ("CPU s/1M ev, raw + OCSF", f"{both.cpu_s / n * 1e6:.1f}"),
        ("extra CPU per event", f"{extra_cpu:+.0%} (target <= +25%)"),
        ("peak RSS MB, raw only", f"{raw.peak_rss_mb:.0f}"),
        ("peak RSS MB, raw + OCSF", f"{both.peak_rss_mb:.0f}"),
        ("extra peak RSS MB", f"{both.peak_rss_mb - raw.peak_rss_mb:+.0f}"),
        ("gzip NDJSON B/ev", f"{raw.out_bytes / n:.0f}"),
        ("OCSF Parquet B/ev", f"{lake / n:.0f} ({lake / raw.out_bytes:.2f}x the gzip NDJSON)"),
        ("wall s, raw only / raw + OCSF", f"{raw.wall_s:.1f} / {both.wall_s:.1f}"),
        ("objects", both.note),
    ]
    print_pairs(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
