"""cProfile of one first-screen search (`bench.search_child.ours`), cold or warm.

    python -m bench.search_profile cold|warm INDICATOR [ROOT] [SORT]

ROOT is a month landed by `bench.search` (default `/work/bench-data/b10m`; its
`bench.json` gives the window's end); with `BENCH_S3_ENDPOINT` and `BENCH_S3_BUCKET` set
the search reads that bucket instead (as `bench.search_child` does). *cold* profiles
the first search of the process (imports included), *warm* the same search again. Prints
the hits, wall and CPU seconds, then the 60 heaviest entries by SORT (`cumulative`,
or `tottime`).
"""

from __future__ import annotations

import cProfile
import io
import json
import pstats
import resource
import sys
import time
from pathlib import Path


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main(argv: list[str]) -> None:
    mode, indicator = argv[0], argv[1]
    root = argv[2] if len(argv) > 2 else "/work/bench-data/b10m"
    order = argv[3] if len(argv) > 3 else "cumulative"
    until = float(json.loads((Path(root) / "bench.json").read_text())["until"])
    from bench import search_child

    if mode == "warm":
        search_child.ours(root, indicator, until)
    profile = cProfile.Profile()
    t, cpu = time.perf_counter(), _cpu()
    profile.enable()
    hits = search_child.ours(root, indicator, until)
    profile.disable()
    print(f"hits {hits} wall {time.perf_counter() - t:.3f} s cpu {_cpu() - cpu:.3f} s")
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats(order).print_stats(60)
    print(out.getvalue())


if __name__ == "__main__":
    main(sys.argv[1:])
