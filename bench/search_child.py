"""One search in a fresh interpreter for `bench.search`: cold (the first, with imports and
the first read) and warm (the same again), CPU seconds and peak RSS, as one JSON line.

    python -c "from bench.search_child import main; main()" MODE ROOT INDICATOR UNTIL [RUNS]

MODE is `index` (the CLI's first screen, from the indexes), `floor` (DuckDB alone),
`summary` (`search --summary`: the first screen and every tally), `floor-summary` (DuckDB
alone computing the same tallies) or `export` (`search --all`: every match, streamed).
With `BENCH_S3_ENDPOINT` and `BENCH_S3_BUCKET` set, the output is that bucket (moto)
instead of ROOT. Imports only what the search itself needs, so the peak RSS is the
search's.
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
    run = {
        "index": ours,
        "scan": ours,
        "summary": summarized,
        "floor": floor,
        "floor-summary": floor_summary,
        "export": export,
    }[mode]
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

    from connector.search.results import Window

    return Window.last(until=datetime.fromtimestamp(until, UTC))


def ours(root: str, indicator: str, until: float) -> int:
    """The CLI's first screen: count, first/last seen and the newest 100 rows."""
    from connector.indicators.match import parse

    found = _searcher(root).find([parse(indicator)], _window(until), limit=100, tally=False)
    return int(found.total)


def summarized(root: str, indicator: str, until: float) -> int:
    """`search --summary`: the first screen and the tallies (log types, sources, actors,
    actions, IPs)."""
    from connector.indicators.match import parse

    found = _searcher(root).find([parse(indicator)], _window(until), limit=100, tally=True)
    return int(found.total)


def export(root: str, indicator: str, until: float) -> int:
    """`search --all`: every match, newest first, streamed (counted, not printed)."""
    from connector.indicators.match import parse
    from connector.search import export as streaming

    return sum(1 for _ in streaming.stream(_searcher(root), [parse(indicator)], _window(until)))


def _floor_db(root: str) -> tuple[Any, str]:
    import duckdb

    from connector.search import duckdb_s3

    db = _SEARCHERS.get("floor")
    output = _output(root)
    if db is None:
        db = _SEARCHERS["floor"] = duckdb.connect()
        db.execute("SET enable_progress_bar = false")
        if output.type == "s3":
            duckdb_s3.configure(db, output)
    return db, f"s3://{output.bucket}" if output.type == "s3" else root


def _floor_args(root: str, indicator: str, until: float) -> list[str]:
    from connector.indicators.match import parse

    pattern = parse(indicator).prefilter() or "."
    low = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(until - 30 * 86400))
    high = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(until + 1))
    return [f"{root}/slack/Slack.*/**/*.json.gz", pattern, low, high]


FLOOR_LINES = (
    "SELECT l AS line, t FROM (SELECT json::VARCHAR AS l, "
    "json_extract_string(json, '$.p_event_time') AS t FROM read_json_objects($1, "
    "format = 'newline_delimited')) WHERE regexp_matches(l, $2) AND t BETWEEN $3 AND $4"
)


def floor(root: str, indicator: str, until: float) -> int:
    """DuckDB alone: lines holding the indicator's text in the window, counted, with
    their first and last time (what a hand-written query over the files would do)."""
    db, root = _floor_db(root)
    row = db.execute(
        f"SELECT count(*), min(t), max(t) FROM ({FLOOR_LINES})",
        _floor_args(root, indicator, until),
    ).fetchone()
    return int(row[0]) if row else 0


def floor_summary(root: str, indicator: str, until: float) -> int:
    """DuckDB alone: the tallies of `search --summary` (the same SQL as `search.tally`)
    over the lines holding the indicator's text in the window, read from every object."""
    from connector.search import tally

    db, root = _floor_db(root)
    head = "WITH lines AS (SELECT unnest(string_split($text, chr(10))) AS line),"
    sql = tally.WITH_FACETS.replace(head, f"WITH lines AS ({FLOOR_LINES}),")
    assert sql != tally.WITH_FACETS
    rows = db.execute(sql, _floor_args(root, indicator, until)).fetchall()
    return sum(n for kind, _, n in rows if kind == "count")
