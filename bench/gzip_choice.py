"""Which gzip to use: zlib, zlib-ng and isal over the benchmark's audit NDJSON.

    python -m bench.gzip_choice [--events 50000]

CPU time, best of 3, 1 MB chunks through `compressobj(level, DEFLATED, 31)` (what
`connector/ingest/batch.py` does); every output is checked with the standard library's
`gzip.decompress`. zlib-ng is measured only when `zlib-ng` is installed.
"""

from __future__ import annotations

import argparse
import gzip
import sys
import time
import zlib
from types import ModuleType
from typing import Any

from isal import isal_zlib

from bench import dataset
from bench.live import render

CANDIDATES: list[tuple[str, Any, tuple[int, ...]]] = [
    ("zlib", zlib, (1, 6)),
    ("isal", isal_zlib, (0, 1, 2, 3)),
]


def _zlib_ng() -> ModuleType | None:
    try:
        from zlib_ng import zlib_ng
    except ImportError:
        return None
    return zlib_ng


def measure(module: Any, level: int, data: bytes) -> tuple[float, int]:
    best, size = float("inf"), 0
    for _ in range(3):
        t0 = time.process_time()
        squeeze = module.compressobj(level, module.DEFLATED, 31)
        step = 1 << 20
        out = [squeeze.compress(data[i : i + step]) for i in range(0, len(data), step)]
        out.append(squeeze.flush())
        best = min(best, time.process_time() - t0)
        body = b"".join(out)
        size = len(body)
    assert gzip.decompress(body) == data
    return best, size


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.gzip_choice")
    ap.add_argument("--events", type=int, default=50_000)
    args = ap.parse_args(argv)
    data = dataset.audit(args.events, int(time.time())).blob.replace(b"},{", b"}\n{")
    candidates = list(CANDIDATES)
    ng = _zlib_ng()
    if ng is not None:
        candidates.insert(1, ("zlib-ng", ng, (1, 6)))
    rows = []
    for name, module, levels in candidates:
        for level in levels:
            seconds, size = measure(module, level, data)
            rows.append(
                [
                    name,
                    str(level),
                    f"{seconds * 1000:.1f}",
                    f"{size / len(data):.1%}",
                    f"{len(data) / seconds / 1e6:,.0f}",
                    f"{seconds / args.events * 1e6:.2f}",
                ]
            )
    print(f"{len(data) / 1e6:.1f} MB of audit NDJSON ({args.events:,} events)")
    print(render(["gzip", "level", "CPU ms", "output", "MB/s", "us/event"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
