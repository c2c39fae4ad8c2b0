"""Search latency over a month of landed audit rows, and what watchlists cost ingest.

    python -m bench.search [--events 1000000] [--ingest-events 300000] [--watched 100]

Search: `bench.landed` writes EVENTS audit rows spread over 30 days to a local output with
the connector's own batch writer; each query (30-day window) is run *cold* in a new
interpreter (import, DuckDB connection, first query; the OS page cache is dropped first
when the host allows it) and *warm* on one reused `Searcher` (median of 3). Hits are all
the matches (`Searcher.find` reads every one, for the summary), not only the 1000 kept.
The queries: an IPv4 address, an email, free text, an IPv6 address typed in a spelling
the data never uses (`2001:0DB8:0009:0:0:0:0:003F` for `2001:db8:9::3f`), an IPv4 held
only outside the schema's indicator fields (`details.previous_ip_address`), and with
`--broad`, a domain that every row holds (the per-match cost: every row is a match).

Ingest: the connector polls INGEST-EVENTS audit events from the benchmark's fake Slack into
a local output, without and then with a watchlist of WATCHED indicators that never match
(the common case: every page is scanned, nothing alerts), alternating and twice each;
the best CPU time of each is compared. The scan alone is also timed over the landed
lines, in µs per event.
"""

from __future__ import annotations

import argparse
import gzip
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import landed
from bench.run import ROOT, Bench, machine

TEXT = "proj-4242-"
IPV6 = "2001:0DB8:0009:0:0:0:0:003F"
OUTSIDE = "198.51.100.7"
BROAD = "birdland.example"


def indicators(sample: dict[str, str], broad: bool = False) -> dict[str, str]:
    queries = {
        "ip": sample["ip"],
        "email": sample["email"],
        "text": f"text:{TEXT}",
        "ipv6, other spelling": IPV6,
        "ip outside p_any_*": OUTSIDE,
    }
    return {**queries, "domain, every row": BROAD} if broad else queries


def _window(until: float) -> Any:
    """The 30 days to `until`: one fixed window for every run, or a query that takes
    minutes would count fewer rows at the window's old edge than the one before it."""
    from datetime import UTC, datetime

    from connector.search.query import Window

    return Window.last(until=datetime.fromtimestamp(until, UTC))


def cold(root: Path, indicator: str, until: float) -> tuple[float, int, float]:
    """One search in a fresh interpreter: seconds to the answer, hits, CPU seconds."""
    _drop_page_cache()
    window = f"until=datetime.fromtimestamp({until!r}, UTC)"
    code = (
        "import sys, time; t = time.perf_counter()\n"
        "from connector.config.settings import OutputConfig\n"
        "from connector.search.query import Searcher, Window\n"
        "from connector.indicators.match import parse\n"
        "from datetime import UTC, datetime\n"
        f"s = Searcher(OutputConfig(type='local', path={str(root)!r}))\n"
        f"n = s.find([parse({indicator!r})], Window.last({window}), limit=1000).total\n"
        "import resource; r = resource.getrusage(resource.RUSAGE_SELF)\n"
        "print(time.perf_counter() - t, n, r.ru_utime + r.ru_stime)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"cold search failed:\n{proc.stderr[-3000:]}")
    out = proc.stdout.split()
    return float(out[0]), int(out[1]), float(out[2])


def _drop_page_cache() -> bool:
    try:
        subprocess.run(["sync"], check=False)
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        return True
    except OSError:
        return False


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def warm(root: Path, indicator: str, until: float, runs: int = 3) -> tuple[float, int, float]:
    """Median seconds and CPU seconds (all DuckDB threads) of `runs` repeated searches."""
    from connector.config.settings import OutputConfig
    from connector.indicators.match import parse
    from connector.search.query import Searcher

    searcher = Searcher(OutputConfig(type="local", path=str(root)))
    try:
        searcher.find([parse(indicator)], _window(until), limit=1000)
        times, cpus, found = [], [], 0
        for _ in range(runs):
            t0, c0 = time.perf_counter(), _cpu()
            found = searcher.find([parse(indicator)], _window(until), limit=1000).total
            times.append(time.perf_counter() - t0)
            cpus.append(_cpu() - c0)
        return statistics.median(times), found, statistics.median(cpus)
    finally:
        searcher.close()


def watched(n: int) -> list[str]:
    """Indicators that occur nowhere in the benchmark's data, of every kind."""
    kinds = (
        lambda i: f"192.0.2.{i % 250}",
        lambda i: f"nobody{i}@elsewhere.example",
        lambda i: f"U9{i:08d}",
        lambda i: f"text:no-such-phrase-{i}",
        lambda i: f"host{i}.elsewhere[.]example",
        lambda i: f"hxxps://elsewhere.example/{i}",
        lambda i: f"2001:db8:ffff::{i:x}",
    )
    return [kinds[i % len(kinds)](i) for i in range(n)]


class WatchBench(Bench):
    def __init__(self, work: Path) -> None:
        super().__init__(work)
        self.watch: dict[str, Any] = {}

    def _settings(
        self, tmp: Path, log_type: str, output: dict[str, Any], budget: bool = False
    ) -> dict[str, Any]:
        return {**super()._settings(tmp, log_type, output, budget), "watchlist": self.watch}


def scan_cost(root: Path, n: int) -> float:
    """CPU µs per event for `Watchlist.scan` over landed pages of 5000 lines, nothing
    matching (CPU time: the scan is one thread, and wall time on a shared host is noise)."""
    from connector.config.sections import WatchlistConfig
    from connector.search.watchlist import Watchlist
    from connector.state.sqlite import StateStore

    lines: list[bytes] = []
    for path in sorted(root.rglob("*.json.gz"))[:30]:
        lines += gzip.decompress(path.read_bytes()).splitlines()
    with tempfile.TemporaryDirectory() as tmp:
        store = StateStore(Path(tmp) / "s.db")
        try:
            watch = Watchlist(WatchlistConfig(indicators=watched(n)), store, lambda a: None)
            t0 = time.process_time()
            for i in range(0, len(lines), 5000):
                watch.scan(lines[i : i + 5000])
            return (time.process_time() - t0) / len(lines) * 1e6
        finally:
            store.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.search", description=__doc__.split("\n")[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--ingest-events", type=int, default=300_000, help="0 skips the ingest runs")
    ap.add_argument("--watched", type=int, default=100)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--broad", action="store_true", help="also a domain every row holds")
    args = ap.parse_args(argv)
    print(f"machine: {machine()}", flush=True)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="slack-search-bench-") as tmp:
        root = Path(tmp) / "landed"
        t0 = time.perf_counter()
        until = time.time()
        sample = landed.write(root, args.events, int(until))
        size = sum(p.stat().st_size for p in root.rglob("*.json.gz"))
        files = sum(1 for _ in root.rglob("*.json.gz"))
        print(
            f"landed {args.events:,} audit rows over 30 days: {files} objects, "
            f"{size / 1e6:.0f} MB gzip, in {time.perf_counter() - t0:.0f}s",
            flush=True,
        )
        search_rows = []
        for name, indicator in indicators(sample, args.broad).items():
            cold_s, n_cold, cold_cpu = cold(root, indicator, until)
            warm_s, n_warm, warm_cpu = warm(root, indicator, until)
            assert n_cold == n_warm, (n_cold, n_warm)
            search_rows.append((name, indicator, n_warm, cold_s, cold_cpu, warm_s, warm_cpu))
            print(f"  {name}: {n_warm} hits, cold {cold_s:.2f}s, warm {warm_s:.2f}s", flush=True)
        results["search"] = search_rows
        results["scan_us"] = {n: scan_cost(root, n) for n in (10, args.watched, 1000)}
    if args.ingest_events > 0:
        results["ingest"] = ingest(args.ingest_events, args.watched)
    print()
    print(report(results, args.events, args.ingest_events, args.watched))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


def ingest(events: int, n: int) -> dict[str, float]:
    work = Path(tempfile.mkdtemp(prefix="slack-watch-bench-"))
    bench = WatchBench(work)
    best: dict[str, float] = {}
    try:
        bench.load_audit(events)
        for _ in range(2):
            for label, watch in (("off", {}), ("on", {"indicators": watched(n)})):
                bench.watch = watch
                row = bench.connector("audit", events)
                assert not isinstance(row, Path)
                key = f"cpu_{label}"
                best[key] = min(best.get(key, float("inf")), row.cpu_s)
                best[f"wall_{label}"] = min(best.get(f"wall_{label}", float("inf")), row.wall_s)
                bench.rows.clear()
    finally:
        bench.close()
    return best


def report(results: dict[str, Any], events: int, ingest_events: int, n: int) -> str:
    lines = [
        f"Search over {events:,} landed audit rows, 30-day window (local disk)",
        "",
        "| query | indicator | hits | cold s | cold CPU s | warm s | warm CPU s |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, indicator, hits, cold_s, cold_cpu, warm_s, warm_cpu in results["search"]:
        lines.append(
            f"| {name} | `{indicator}` | {hits} | {cold_s:.2f} | {cold_cpu:.2f} "
            f"| {warm_s:.2f} | {warm_cpu:.2f} |"
        )
    lines += [
        "",
        "Warm: median of 3 on one reused Searcher. CPU s: all threads of the process (DuckDB",
        "uses both cores), so wall below CPU means the two cores were both free; a wall far",
        "above CPU/2 means the cores were busy with other work.",
    ]
    scan = results["scan_us"]
    if "ingest" in results:
        ing = results["ingest"]
        per_off = ing["cpu_off"] / ingest_events * 1e6
        per_on = ing["cpu_on"] / ingest_events * 1e6
        lines += [
            "",
            f"Watchlist cost on ingest ({ingest_events:,} audit events, {n} watched, "
            "none matching)",
            "",
            "| run | CPU s (best of 2) | wall s (best of 2) | CPU µs/event |",
            "| --- | ---: | ---: | ---: |",
            f"| no watchlist | {ing['cpu_off']:.1f} | {ing['wall_off']:.1f} | {per_off:.1f} |",
            f"| {n} watched | {ing['cpu_on']:.1f} | {ing['wall_on']:.1f} | {per_on:.1f} |",
        ]
    lines += [
        "",
        "| watched indicators | scan alone, CPU µs/event |",
        "| ---: | ---: |",
        *(f"| {k} | {v:.2f} |" for k, v in scan.items()),
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
