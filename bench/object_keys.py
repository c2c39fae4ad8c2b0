"""CPU a row of one landed object's search index keys, in one process: the native scan
(`_keyscan`), the arrays path it replaces, and the whole index build with each.

    python -m bench.object_keys --root DIR [--objects 20] [--rounds 7]

DIR is a tree `bench.search --root DIR` landed. The first OBJECTS audit objects (by
key) are read once; each variant runs over all of them ROUNDS times after one warm-up
round (the key caches warm: in a month landed once, each object is met cold; see
`bench.search --reindex` for that) and the least CPU time is reported,
in µs a row. The two paths' tables are checked equal first.
"""

from __future__ import annotations

import argparse
import gzip
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.run import machine


def main(argv: list[str] | None = None) -> int:
    from connector.indicators import object_keys as ok
    from connector.search import index

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", type=Path, required=True)
    ap.add_argument("--objects", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args(argv)
    paths = sorted((args.root / "slack" / "Slack.AuditLogs").glob("**/*.json.gz"))
    bodies = [gzip.decompress(p.read_bytes()) for p in paths[: args.objects]]
    rows = sum(len(b.splitlines()) for b in bodies)
    native = ok._SCANNER is not None
    for body in bodies:
        if native:
            assert _rows(ok.object_keys(body)) == _rows(ok.object_keys(body, native=False))
    scanner = ok._SCANNER
    variants: list[tuple[str, Callable[[bytes], object]]] = [
        ("object_keys, arrays (before)", lambda b: ok.object_keys(b, native=False)),
        ("index build, arrays (before)", lambda b: _arrays_only(index, ok, b)),
    ]
    if scanner is not None:
        variants += [
            ("native scan alone (`Scanner.scan`)", scanner.scan),
            ("object_keys, native", ok.object_keys),
            ("index build, native (`build_object`)", index.build_object),
        ]
    print(f"machine: {machine()}")
    print(f"{len(bodies)} audit objects, {rows:,} rows, {sum(map(len, bodies)):,} bytes")
    print()
    print("| variant | µs a row (least of rounds) |")
    print("| --- | ---: |")
    for name, run in variants:
        best = min(_round(run, bodies) for _ in range(args.rounds + 1))
        print(f"| {name} | {1e6 * best / rows:.2f} |", flush=True)
    return 0


def _arrays_only(index: Any, ok: Any, body: bytes) -> object:
    """The index built as before the extension: the arrays path, CRC-32 with arrays."""
    native = index._native
    index._native = lambda name: None
    try:
        return index._write(ok.object_keys(body, native=False))
    finally:
        index._native = native


def _round(run: Callable[[bytes], object], bodies: list[bytes]) -> float:
    t0 = time.process_time()
    for body in bodies:
        run(body)
    return time.process_time() - t0


def _rows(table: object) -> list[tuple[str, list[int], int, int]]:
    rows = table.to_pylist()  # type: ignore[attr-defined]
    return sorted((r["key"], r["lines"], r["first"], r["last"]) for r in rows)


if __name__ == "__main__":
    raise SystemExit(main())
