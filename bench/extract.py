"""What a Slack submission costs before Slack's 3 seconds run out.

    python -m bench.extract [--repeat 20] [--dynamodb-endpoint http://127.0.0.1:PORT]

Extraction: `extract` over reports of 1 and 3 KB (3 KB is the modal's limit) holding 5
or 50 indicators, half of them defanged, and `extract_list` over a pasted list of 100;
median µs a call. Watching: `Watchlist.add_all` of 10 and 100 new indicators (the
submission limit) into a store that already holds 1,000, on SQLite (a file in a temp
directory) and, when an endpoint is given, on DynamoDB (moto's server, or a real table's
endpoint); median ms a submission. Those writes happen while Slack waits.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from connector.config.sections import WatchlistConfig
from connector.indicators.match import Indicator, parse
from connector.search.extract import extract, extract_list
from connector.state import StateStore
from connector.watchlist.provenance import Entry
from connector.watchlist.watchlist import Watchlist

WORDS = "the actor then logged in from and later sent mail to with a link pointing at".split()


def planted(i: int, rng: random.Random) -> str:
    kind = i % 5
    value = [
        f"198.51.{i // 250 % 250}.{i % 250}",
        f"user{i}@corp{i}.example.com",
        f"https://evil{i}.example.net/p/{i}",
        f"bad{i}.example.org",
        f"U{i:08d}",
    ][kind]
    if rng.random() < 0.5:
        value = value.replace(".", "[.]").replace("@", "[@]").replace("https", "hxxps")
    return value


def report(size: int, count: int, rng: random.Random) -> str:
    parts, at = [], 0
    for i in range(count):
        parts.append(planted(i, rng))
    words: list[str] = []
    while sum(len(w) + 1 for w in words) + sum(len(p) + 1 for p in parts) < size:
        words.append(rng.choice(WORDS))
    for p in parts:
        at = rng.randrange(len(words) + 1)
        words.insert(at, p)
    return " ".join(words)[: size + 200]


def median_us(fn: Any, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1e6


def sqlite_store(tmp: Path) -> StateStore:
    from connector.state.sqlite import StateStore as Sqlite

    return Sqlite(str(tmp / f"{uuid.uuid4().hex}.db"))


def dynamodb_store(endpoint: str) -> StateStore:
    from connector.state import DynamoDBOptions

    options = DynamoDBOptions.model_validate(
        {
            "type": "dynamodb",
            "table": f"bench-{uuid.uuid4().hex[:10]}",
            "region": "us-east-1",
            "endpoint_url": endpoint,
        }
    )
    options.init()
    return options.open(replica=False)


def add_all_ms(store: StateStore, n: int, repeat: int) -> float:
    cfg = WatchlistConfig()
    watch = Watchlist(cfg, store, lambda alert: None)
    watch.add_all(
        [parse(f"ip:10.{i // 250}.{i % 250}.1") for i in range(1000)], Entry("default", "U0BENCH")
    )
    times = []
    for r in range(repeat):
        batch: list[Indicator] = [parse(f"ip:172.16.{r}.{i}") for i in range(n)]
        started = time.perf_counter()
        watch.add_all(batch, Entry("default", "U0BENCH", tags=("bench",), note="n"))
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1e3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--dynamodb-endpoint", help="e.g. a moto server's http://127.0.0.1:PORT")
    args = parser.parse_args(argv)
    rng = random.Random(20)
    rows = []
    for size, count in ((1000, 5), (3000, 5), (3000, 50)):
        text = report(size, count, rng)
        assert len(extract(text)) == count, "every planted indicator is found"
        us = median_us(lambda text=text: extract(text), args.repeat)
        rows.append((f"extract, {size // 1000} KB report, {count} indicators", f"{us:,.0f} µs"))
    pasted = "\n".join(planted(i, rng) for i in range(100))
    us = median_us(lambda: extract_list(pasted), args.repeat)
    rows.append(("extract_list, 100 pasted indicators", f"{us:,.0f} µs"))
    with tempfile.TemporaryDirectory() as tmp:
        for n in (10, 100):
            store = sqlite_store(Path(tmp))
            try:
                ms = add_all_ms(store, n, max(3, args.repeat // 4))
            finally:
                store.close()
            rows.append((f"add_all {n} new (1,000 watched), SQLite", f"{ms:,.1f} ms"))
    if args.dynamodb_endpoint:
        for n in (10, 100):
            store = dynamodb_store(args.dynamodb_endpoint)
            try:
                ms = add_all_ms(store, n, 3)
            finally:
                store.close()
            rows.append((f"add_all {n} new (1,000 watched), DynamoDB", f"{ms:,.1f} ms"))
    width = max(len(r[0]) for r in rows)
    print(f"{'step'.ljust(width)}  median")
    for name, value in rows:
        print(f"{name.ljust(width)}  {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
