"""Search over a month of landed audit rows, with the index and against the DuckDB floor,
and what watchlists cost ingest.

    python -m bench.search [--events 1000000] [--root DIR [--reuse]] [--s3 [--s3-latency MS]]
                           [--floor-runs 2]
                           [--export QUERY] [--ingest-events 0] [--watched 100] [--scan]
                           [--summary] [--compact]

`bench.landed` writes EVENTS audit rows, a tenth as many access log rows and a hundredth
as many integration log rows over 30 days to a local output through the connector's own
validate/enrich/batch code, and writes each object's search index beside it with the
daemon's derived output; the index's CPU and bytes are reported against the rest. A fifth
of the audit rows sign in from one office NAT address. `--s3` uploads the tree to a moto
server on 127.0.0.1 (its own process) and runs every query there too; `--export` measures
`search --all` of one query (peak RSS of the streaming export); `--s3-latency MS` runs
every query once more through `bench.latency_proxy` in front of moto, which waits MS
before passing each request on (S3 answers in tens of ms; moto in a few).

Each query (30-day window, the first screen: count, first/last seen and the newest 100
rows) runs in a fresh interpreter: *cold* is the first search (imports, DuckDB
connection, first read; the OS page cache is dropped first when the host allows it),
*warm* the same search again in that process. CPU s is all threads of the process; peak
RSS the process's. The *floor* is DuckDB asked the same question directly over the same
data files (count, first and last time of the lines holding the indicator's text), in
the same way; the ratio is ours over the floor's CPU. `--scan` adds today's path for
objects without an index (the indexes hidden). `--summary` measures `search --summary`
instead (the first screen and every tally: log types, sources, actors, actions, IPs),
against DuckDB computing the same tallies over the lines holding the indicator's text.
`--compact` writes each day's compacted index first (`slack-connector index --compact`'s
code; days already compacted are skipped), so the searches use it; its CPU and bytes are
reported. `--gc` then deletes the index files no search reads (`slack-connector index
--gc --grace 0`'s code): every index byte left is reported against the data's.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import landed
from bench.run import ROOT, Bench, machine
from connector.search.compact import SUFFIX as COMPACT
from connector.search.index import SUFFIX
from tests.fakes.moto_server import AWS_ENV

TEXT = "proj-4242-"
IPV6 = "2001:0DB8:0009:0:0:0:0:003F"
OUTSIDE = "198.51.100.7"
BROAD = "birdland.example"


def indicators(sample: dict[str, str]) -> dict[str, str]:
    return {
        "rare IPv4 (one user)": sample["ip"],
        "email": sample["email"],
        "user id": "W00029974",
        "IPv6, other spelling": IPV6,
        "1 %: IPv4 in details only": OUTSIDE,
        "20 %: office NAT IP": landed.OFFICE_IP,
        "99 %: the org's domain": BROAD,
        "text:": f"text:{TEXT}",
    }


CHILD = "from bench.search_child import main; main()"


def measure(
    mode: str,
    root: Path,
    indicator: str,
    until: float,
    runs: int = 2,
    s3: dict[str, str] | None = None,
) -> dict[str, Any]:
    """One child's cold and warm run, CPU s, peak RSS, and the load average after it."""
    _drop_page_cache()
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, mode, str(root), indicator, repr(until), str(runs)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(s3 or {})},
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{mode} search failed:\n{proc.stderr[-3000:]}")
    out: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    out["load"] = _loadavg()
    return out


def moto_upload(root: Path) -> tuple[subprocess.Popen[bytes], dict[str, str]]:
    """A moto server (its own process, on 127.0.0.1) holding everything under `root`:
    the data objects and their indexes, under the same keys."""
    import socket

    import boto3

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.moto_server", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    env = {
        "BENCH_S3_ENDPOINT": f"http://127.0.0.1:{port}",
        "BENCH_S3_BUCKET": "bench",
        **AWS_ENV,
    }
    os.environ.update(AWS_ENV)
    os.environ.pop("AWS_PROFILE", None)
    client = boto3.client("s3", endpoint_url=env["BENCH_S3_ENDPOINT"], region_name="us-east-1")
    for _ in range(100):
        try:
            client.create_bucket(Bucket="bench")
            break
        except Exception:
            time.sleep(0.2)
    for path in sorted((root / "slack").rglob("*")):
        if path.is_file() and not path.name.startswith("."):
            client.put_object(
                Bucket="bench", Key=str(path.relative_to(root)), Body=path.read_bytes()
            )
    return server, env


def reindex(root: Path) -> float:
    """Every object's index written again (the old ones removed): its CPU seconds."""
    import shutil

    from connector.search.index import SearchIndex
    from connector.sinks.local import LocalSink

    shutil.rmtree(root / "slack" / "_index", ignore_errors=True)
    sink = LocalSink(root)
    index = SearchIndex(sink, "slack")
    cpu = 0.0
    for path in sorted((root / "slack").glob("Slack.*/**/*.json.gz")):
        ndjson = gzip.decompress(path.read_bytes())
        t0 = time.process_time()
        for derived in index.derive(str(path.relative_to(root)), ndjson):
            sink.put(derived.key, derived.body)
        cpu += time.process_time() - t0
    return cpu


def compact_days(root: Path) -> float:
    """Every closed day's compacted index written (`slack-connector index --compact`'s
    code, the day's objects read from disk): its CPU seconds, reading and gunzip
    included."""
    from connector.config.settings import OutputConfig
    from connector.search import compact, inventory
    from connector.search.query import Searcher
    from connector.search.results import Window

    searcher = Searcher(OutputConfig(type="local", path=str(root), prefix=landed.PREFIX))
    try:
        days = inventory.days(searcher, Window.last(since=datetime(2000, 1, 1, tzinfo=UTC)))
    finally:
        searcher.close()
    base = root / landed.PREFIX
    cpu = 0.0
    for day, objects in compact.todo(days, "9999-12-31"):
        t0 = time.process_time()
        body = compact.build(objects, lambda key: gzip.decompress((base / key).read_bytes()))
        where = base / compact.name(day, objects)
        where.parent.mkdir(parents=True, exist_ok=True)
        where.write_bytes(body)
        cpu += time.process_time() - t0
    return cpu


def collect(root: Path) -> dict[str, float]:
    """`slack-connector index --gc --grace 0` over the landed month: what it deleted and
    its CPU seconds."""
    from connector.config.settings import OutputConfig
    from connector.search import gc
    from connector.search.query import Searcher, log_type_names
    from connector.search.results import Window
    from connector.sinks.local import LocalSink

    t0 = time.process_time()
    window = Window.last(since=datetime(2000, 1, 1, tzinfo=UTC))
    searcher = Searcher(OutputConfig(type="local", path=str(root), prefix=landed.PREFIX))
    try:
        folders = log_type_names()
        present = set(searcher.files(window, folders))
        blobs = gc.listing(searcher.db, searcher.root, window, folders)
        doomed = gc.plan(searcher.db, searcher.root, present, blobs, int(time.time() * 1e6), 0)
    finally:
        searcher.close()
    sink = LocalSink(root)
    deleted = gc.sweep(doomed, searcher.root, lambda key: sink.delete(f"{landed.PREFIX}/{key}"))
    return {"deleted": deleted, "bytes": doomed.bytes, "cpu_s": time.process_time() - t0}


def _drop_page_cache() -> bool:
    try:
        subprocess.run(["sync"], check=False)
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        return True
    except OSError:
        return False


def _hide_indexes(root: Path, hidden: bool) -> None:
    """`--scan`: rename the index folder away (and back) so every object is scanned."""
    shown, away = root / "slack" / "_index", root / "slack" / ".index-hidden"
    src, dst = (shown, away) if hidden else (away, shown)
    if src.exists():
        src.rename(dst)


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
    from connector.state.sqlite import StateStore
    from connector.watchlist.watchlist import Watchlist

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
    ap.add_argument("--ingest-events", type=int, default=0, help="0 skips the watchlist runs")
    ap.add_argument("--watched", type=int, default=100)
    ap.add_argument("--scan", action="store_true", help="also today's scan, indexes hidden")
    ap.add_argument("--root", type=Path, help="land here and keep it (default: a temp dir)")
    ap.add_argument("--reuse", action="store_true", help="search what --root holds already")
    ap.add_argument("--only", action="append", default=[], help="only these query names")
    ap.add_argument("--json", type=Path)
    ap.add_argument(
        "--reindex", action="store_true", help="index after landing (or again, with --reuse)"
    )
    ap.add_argument("--s3", action="store_true", help="also every query over moto S3")
    ap.add_argument(
        "--s3-latency",
        type=float,
        default=0.0,
        help="with --s3, also every query over moto behind a proxy adding this many ms a request",
    )
    ap.add_argument(
        "--floor-runs", type=int, default=2, help="1: the floor's cold run only; 0: no floor"
    )
    ap.add_argument("--export", default="20 %: office NAT IP", help="query for --all; '' skips")
    ap.add_argument("--summary", action="store_true", help="search --summary (tallies)")
    ap.add_argument(
        "--compact",
        action="store_true",
        help="write every day's compacted index before searching (its CPU measured once)",
    )
    ap.add_argument(
        "--gc", action="store_true", help="then delete the index files no search reads (grace 0)"
    )
    args = ap.parse_args(argv)
    print(f"machine: {machine()}", flush=True)
    results: dict[str, Any] = {"loadavg": [_loadavg()]}
    with tempfile.TemporaryDirectory(prefix="slack-search-bench-") as tmp:
        root = args.root or Path(tmp) / "landed"
        meta = root / "bench.json"
        if args.reuse and meta.exists():
            info = json.loads(meta.read_text())
            if args.reindex:
                info["index_cpu_s"] = reindex(root)
                info["reindexed"] = True
                meta.write_text(json.dumps(info))
        else:
            t0 = time.perf_counter()
            until = time.time()
            indexed = not args.reindex
            done = landed.land(
                root, args.events, int(until), indexed=indexed, office=0.2, others=True
            )
            info = {
                "until": until,
                "sample": done.sample,
                "cpu_s": done.cpu_s,
                "index_cpu_s": reindex(root) if args.reindex else done.index_cpu_s,
                "wall_s": time.perf_counter() - t0,
            }
            meta.write_text(json.dumps(info))
        if args.compact:
            cpu = compact_days(root)
            if cpu or "compact_cpu_s" not in info:
                info["compact_cpu_s"] = cpu
                meta.write_text(json.dumps(info))
        if args.gc:
            info["gc"] = collect(root)
        until = info["until"]
        data = list((root / "slack").glob("Slack.*/**/*.json.gz"))
        idx = list((root / "slack" / "_index").rglob(f"*{SUFFIX}"))
        info["rows"] = {
            folder.name: sum(1 for p in folder.rglob("*.json.gz") for _ in gzip.open(p))
            for folder in (root / "slack").glob("Slack.*")
        }
        info["data_bytes"] = sum(p.stat().st_size for p in data)
        info["index_bytes"] = sum(p.stat().st_size for p in idx)
        days = list((root / "slack" / "_index").rglob(f"*{COMPACT}"))
        info["compact_bytes"] = sum(p.stat().st_size for p in days)
        info["compact_files"] = len(days)
        info["all_index_bytes"] = sum(
            p.stat().st_size for p in (root / "slack" / "_index").rglob("*.parquet")
        )
        info["objects"] = len(data)
        results["landed"] = info
        print(f"landed: {json.dumps(info)}", flush=True)
        search_rows = []
        queries = indicators(info["sample"])
        places: list[tuple[str, dict[str, str] | None]] = [("local", None)]
        server = None
        if args.s3:
            server, env = moto_upload(root)
            places.append(("S3 (moto)", env))
            if args.s3_latency > 0:
                from bench import latency_proxy

                port = int(env["BENCH_S3_ENDPOINT"].rsplit(":", 1)[1])
                proxy = latency_proxy.serve(port, args.s3_latency / 1000)
                slow = f"http://127.0.0.1:{proxy.server_address[1]}"
                place = f"S3 (moto, +{args.s3_latency:g} ms a request)"
                places.append((place, {**env, "BENCH_S3_ENDPOINT": slow}))
        try:
            for place, env in places:
                for name, indicator in queries.items():
                    if args.only and name not in args.only:
                        continue
                    row: dict[str, Any] = {"name": name, "indicator": indicator, "place": place}
                    ours, fl = ("summary", "floor-summary") if args.summary else ("index", "floor")
                    row["index"] = measure(ours, root, indicator, until, 2, env)
                    if args.floor_runs:
                        row["floor"] = measure(fl, root, indicator, until, args.floor_runs, env)
                    if args.scan and env is None:
                        _hide_indexes(root, True)
                        try:
                            row["scan"] = measure("scan", root, indicator, until)
                        finally:
                            _hide_indexes(root, False)
                    results["loadavg"].append(_loadavg())
                    search_rows.append(row)
                    print(f"  {json.dumps(row)}", flush=True)
                if args.export:
                    got = measure("export", root, queries[args.export], until, 1, env)
                    results.setdefault("export", []).append({"place": place, **got})
                    print(f"  export {place}: {json.dumps(got)}", flush=True)
        finally:
            if server is not None:
                server.terminate()
                server.wait()
        results["search"] = search_rows
        results["summary"] = args.summary
        results["export_query"] = args.export
        results["scan_us"] = {n: scan_cost(root, n) for n in (10, args.watched)}
    if args.ingest_events > 0:
        results["ingest"] = ingest(args.ingest_events, args.watched)
    print()
    events = results["landed"]["rows"].get("Slack.AuditLogs", args.events)
    print(report(results, events, args.ingest_events, args.watched))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


def _loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


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
    info = results["landed"]
    rows = ", ".join(f"{n:,} {k}" for k, n in sorted(info.get("rows", {}).items()))
    lines = [
        f"Search over {events:,} audit rows and the other logs ({rows}; {info['objects']}"
        " objects), 30-day window; first screen (count, first/last seen, newest 100 rows)"
        + (" and every tally (`--summary`)" if results.get("summary") else ""),
        f"load average (1, 5, 15 min) during the runs: {', '.join(results['loadavg'])}",
        "",
        f"index: {info['index_bytes'] / 1e6:.1f} MB = "
        f"{100 * info['index_bytes'] / max(info['data_bytes'], 1):.1f} % of the data's "
        f"{info['data_bytes'] / 1e6:.1f} MB; its CPU {info['index_cpu_s']:.1f} s = "
        f"{100 * info['index_cpu_s'] / max(info['cpu_s'], 1e-9):.0f} % of landing's "
        f"{info['cpu_s']:.1f} s (validate, enrich, batch, gzip, write)",
        *(
            [
                f"compacted day index: {info['compact_files']} files, "
                f"{info['compact_bytes'] / 1e6:.1f} MB = "
                f"{100 * info['compact_bytes'] / max(info['data_bytes'], 1):.1f} % of the data; "
                f"its CPU {info['compact_cpu_s']:.1f} s (read, gunzip, keys, sort, write) = "
                f"{100 * info['compact_cpu_s'] / max(info['cpu_s'], 1e-9):.0f} % of landing's",
            ]
            if info.get("compact_files")
            else []
        ),
        f"every index file (per-object, day files of any version): "
        f"{info.get('all_index_bytes', 0) / 1e6:.1f} MB = "
        f"{100 * info.get('all_index_bytes', 0) / max(info['data_bytes'], 1):.1f} % of the data"
        + (
            f"; gc deleted {info['gc']['deleted']} file(s), {info['gc']['bytes'] / 1e6:.1f} MB, "
            f"in {info['gc']['cpu_s']:.1f} CPU s"
            if info.get("gc")
            else ""
        ),
        "",
        "| where | query | hits | cold s (CPU) | warm s (CPU) | peak RSS MB | floor cold s (CPU)"
        " | floor warm s (CPU) | floor RSS MB | warm CPU ratio | load after |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    none = {"cold": [0.0, 0.0], "warm": [0.0, 1e-9], "rss_mb": 0.0, "runs": 1, "load": "-"}
    for row in results["search"]:
        ours, fl = row["index"], row.get("floor") or none
        warm = fl["warm"] if fl.get("runs", 2) > 1 else None
        ratio = ours["warm"][1] / max((warm or fl["cold"])[1], 1e-9)
        floor_warm = f"{warm[0]:.2f} ({warm[1]:.2f})" if warm else "-"
        floor_cold = f"{fl['cold'][0]:.2f} ({fl['cold'][1]:.2f})" if row.get("floor") else "-"
        shown_ratio = f"{ratio:.2f}" if row.get("floor") else "-"
        load = (fl if row.get("floor") else ours).get("load", "")
        lines.append(
            f"| {row.get('place', 'local')} | {row['name']} `{row['indicator']}` "
            f"| {ours['warm'][2]:,} "
            f"| {ours['cold'][0]:.2f} ({ours['cold'][1]:.2f}) "
            f"| {ours['warm'][0]:.2f} ({ours['warm'][1]:.2f}) | {ours['rss_mb']:.0f} "
            f"| {floor_cold} | {floor_warm} | {fl['rss_mb']:.0f} | {shown_ratio} | {load} |"
        )
    for got in results.get("export", []):
        lines += [
            "",
            f"`--all` export ({got['place']}, every match of the {results.get('export_query')}"
            f" query, streamed): {got['cold'][2]:,} rows, {got['cold'][0]:.1f} s "
            f"({got['cold'][1]:.1f} CPU s), peak RSS {got['rss_mb']:.0f} MB, load {got['load']}",
        ]
    if any("scan" in row for row in results["search"]):
        lines += ["", "| query | scan (no index) cold s (CPU) | warm s (CPU) | peak RSS MB |"]
        lines.append("| --- | ---: | ---: | ---: |")
        for row in results["search"]:
            sc = row.get("scan")
            if sc:
                lines.append(
                    f"| {row['name']} | {sc['cold'][0]:.2f} ({sc['cold'][1]:.2f}) "
                    f"| {sc['warm'][0]:.2f} ({sc['warm'][1]:.2f}) | {sc['rss_mb']:.0f} |"
                )
    lines += [
        "",
        "Floor hits count lines holding the indicator's text (its prefilter), a superset of",
        "the matches; the floor reads every data object. Ratio: our warm CPU over the",
        "floor's warm CPU (its cold one when the floor ran once, `--floor-runs 1`).",
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
