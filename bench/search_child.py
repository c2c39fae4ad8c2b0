"""One search in a fresh interpreter for `bench.search`: cold (the first, with imports and
the first read) and warm (the same again), CPU seconds and peak RSS, as one JSON line.

    python -c "from bench.search_child import main; main()" MODE ROOT INDICATOR UNTIL [RUNS]

MODE is `index` (the CLI's first screen, from the indexes), `floor` (DuckDB alone) or
`export` (`search --all`: every match, streamed). With `BENCH_S3_ENDPOINT` and
`BENCH_S3_BUCKET` set, the output is that bucket (moto) instead of ROOT. Imports only what
the search itself needs, so the peak RSS is the search's.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from typing import Any


def main() -> None:
    mode, root, indicator, until = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    runs = int(sys.argv[5]) if len(sys.argv) > 5 else 2
    t0 = time.perf_counter()
    run = {"index": ours, "scan": ours, "floor": floor, "export": export}[mode]
    out: list[list[float]] = []
    for _ in range(runs):
        t, c = time.perf_counter(), _cpu()
        total = run(root, indicator, until)
        start, cpu0 = (t0, 0.0) if not out else (t, c)
        out.append([time.perf_counter() - start, _cpu() - cpu0, total])
    rss = _peak_rss_mb()
    print(json.dumps({"cold": out[0], "warm": out[-1], "rss_mb": rss, "runs": runs}))


def _peak_rss_mb() -> float:
    """VmHWM, this program's peak: `ru_maxrss` would count the benchmark's own memory,
    shared by the fork before the exec."""
    for line in open("/proc/self/status").read().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


_SEARCHERS: dict[str, Any] = {}


def _output(root: str) -> Any:
    import os

    from connector.config.settings import OutputConfig

    endpoint = os.environ.get("BENCH_S3_ENDPOINT")
    if endpoint:
        bucket = os.environ["BENCH_S3_BUCKET"]
        return OutputConfig(type="s3", bucket=bucket, region="us-east-1", endpoint_url=endpoint)
    return OutputConfig(type="local", path=root)


def _searcher(root: str) -> Any:
    from connector.search.query import Searcher

    searcher = _SEARCHERS.get(root) or Searcher(_output(root))
    _SEARCHERS[root] = searcher
    return searcher


def _window(until: float) -> Any:
    from datetime import UTC, datetime

    from connector.search.query import Window

    return Window.last(until=datetime.fromtimestamp(until, UTC))


def ours(root: str, indicator: str, until: float) -> int:
    """The CLI's first screen: count, first/last seen and the newest 100 rows."""
    from connector.indicators.match import parse

    found = _searcher(root).find([parse(indicator)], _window(until), limit=100, tally=False)
    return int(found.total)


def export(root: str, indicator: str, until: float) -> int:
    """`search --all`: every match, newest first, streamed (counted, not printed)."""
    from connector.indicators.match import parse
    from connector.search import export as streaming

    return sum(1 for _ in streaming.stream(_searcher(root), [parse(indicator)], _window(until)))


def floor(root: str, indicator: str, until: float) -> int:
    """DuckDB alone: lines holding the indicator's text in the window, counted, with
    their first and last time (what a hand-written query over the files would do)."""
    import duckdb

    from connector.indicators.match import parse
    from connector.search import duckdb_s3

    db = _SEARCHERS.get("floor")
    if db is None:
        db = _SEARCHERS["floor"] = duckdb.connect()
        db.execute("SET enable_progress_bar = false")
        output = _output(root)
        if output.type == "s3":
            duckdb_s3.configure(db, output)
            root = f"s3://{output.bucket}"
    elif _output(root).type == "s3":
        root = f"s3://{_output(root).bucket}"
    pattern = parse(indicator).prefilter() or "."
    low = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(until - 30 * 86400))
    high = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(until + 1))
    row = db.execute(
        "SELECT count(*), min(t), max(t) FROM (SELECT json::VARCHAR AS l, "
        "json_extract_string(json, '$.p_event_time') AS t FROM read_json_objects(?, "
        "format = 'newline_delimited')) WHERE regexp_matches(l, ?) AND t BETWEEN ? AND ?",
        [f"{root}/slack/Slack.*/**/*.json.gz", pattern, low, high],
    ).fetchone()
    return int(row[0]) if row else 0
