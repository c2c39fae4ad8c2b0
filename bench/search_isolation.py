"""Do searches from Slack get in the daemon's way? Timers and ingest-like work while four
searches run, in the daemon's process and in worker processes.

    python -m bench.search_isolation --root DIR [--indicator birdland.example] [--seconds 20]

DIR is an output `bench.search --root DIR` landed (indexed). In one process, like the
daemon: a timer thread due every 0.5 s (what the scheduler's poll triggers and the lease
renewal thread are: Python threads waking on time) records how late each wake-up is, and
an ingest thread does the pipeline's per-row Python work (parse, enrich, serialise landed
lines) and counts rows a second. Three phases of SECONDS each: idle; four searches at once
on threads of this process (`[slash_command] search_processes = 0`); four searches through
`search.worker.SearchWorkers` (four processes). The searches repeat until the phase ends.
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import orjson

from connector.config.settings import OutputConfig
from connector.indicators.match import parse
from connector.search.query import Searcher
from connector.search.results import Window
from connector.search.worker import SearchWorkers

TICK = 0.5


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.search_isolation")
    ap.add_argument("--root", type=Path, required=True)
    ap.add_argument("--indicator", default="birdland.example")
    ap.add_argument("--seconds", type=float, default=20.0)
    args = ap.parse_args(argv)
    output = OutputConfig(type="local", path=str(args.root))
    lines = [
        line
        for path in sorted(args.root.rglob("*.json.gz"))[:5]
        for line in gzip.decompress(path.read_bytes()).splitlines()
    ]
    indicators = [parse(args.indicator)]
    workers = SearchWorkers(output, processes=4, deadline=600)
    rows = []
    try:
        for name, search in (
            ("idle", None),
            ("4 searches in the daemon's process", _in_process(output, indicators)),
            ("4 searches in worker processes", lambda: workers.find(indicators, Window.last(), 20)),
        ):
            rows.append((name, *_phase(args.seconds, lines, search)))
            print(rows[-1], flush=True)
    finally:
        workers.close()
    print()
    print(f"load average: {Path('/proc/loadavg').read_text().split()[:3]}")
    print("| phase | timer lateness p50 / p99 / max ms | ingest-like rows/s | searches done |")
    print("| --- | ---: | ---: | ---: |")
    for name, p50, p99, worst, rate, done in rows:
        print(f"| {name} | {p50:.0f} / {p99:.0f} / {worst:.0f} | {rate:,.0f} | {done} |")
    return 0


def _in_process(output: OutputConfig, indicators: list) -> Callable[[], object]:  # type: ignore[type-arg]
    local = threading.local()

    def search() -> object:
        if not hasattr(local, "searcher"):
            local.searcher = Searcher(output)
        return local.searcher.find(indicators, Window.last(), limit=20)

    return search


def _phase(
    seconds: float, lines: list[bytes], search: Callable[[], object] | None
) -> tuple[float, float, float, float, int]:
    stop = threading.Event()
    late: list[float] = []
    done = [0]
    ingested = [0]

    def timer() -> None:
        due = time.monotonic() + TICK
        while not stop.is_set():
            time.sleep(max(0.0, due - time.monotonic()))
            late.append((time.monotonic() - due) * 1000)
            due += TICK

    def ingest() -> None:
        while not stop.is_set():
            for line in lines[:2000]:
                row = orjson.loads(line)
                row["p_parse_time"] = "2026-01-01T00:00:00Z"
                orjson.dumps(row)
            ingested[0] += 2000

    def searching() -> None:
        assert search is not None
        while not stop.is_set():
            search()
            done[0] += 1

    threads = [threading.Thread(target=timer), threading.Thread(target=ingest)]
    if search is not None:
        threads += [threading.Thread(target=searching) for _ in range(4)]
    start = time.monotonic()
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join()
    took = time.monotonic() - start
    ordered = sorted(late) or [0.0]
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return statistics.median(ordered), p99, ordered[-1], ingested[0] / took, done[0]


if __name__ == "__main__":
    sys.exit(main())
