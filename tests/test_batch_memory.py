"""What a batch holds in memory while rows are added: its lines in one buffer of at most
`SPILL_AT` bytes (the rest is in the spill file) and a small index per row, not each line
in the allocation the encoder returned it in. And how many malloc arenas the threads that
fill batches share.

orjson 3.13 returns every line in an ~8 KB allocation whatever its length; a batch that
kept those `bytes` objects held ~9 MB for 1 MB of ~900-byte lines, and with the 150
polls of 50 sources the fleet peaked at 361 MB instead of 252 (issue 19). Counted with
tracemalloc, so the bound is on bytes allocated, not on timing or RSS.
"""

from __future__ import annotations

import ctypes
import gzip
import os
import subprocess
import sys
import tracemalloc
from pathlib import Path

import orjson
import pytest

from connector.budget import MALLOC_ARENAS
from connector.ingest.batch import SPILL_AT, Batch, Sizing
from connector.ingest.partition import HOUR

ROOT = Path(__file__).resolve().parents[1]
ROWS = 4_000
INDEX_BYTES_PER_ROW = 200
"""A 16-byte dedupe key in the group and in the batch's key set, and a run of the line
stream when partitions interleave (16 bytes in an array): about 170 bytes a row measured
with 400 partitions; with each run a list of two ints it was 294."""


def _line(i: int) -> bytes:
    """An audit-sized line fresh from orjson, as `Enricher.line` makes it."""
    return orjson.dumps({"id": f"ev-{i:08d}", "action": "user_login", "pad": "x" * 860})


def test_a_batch_holds_spill_at_bytes_of_lines_and_a_small_index(tmp_path: Path) -> None:
    assert len(_line(0)) > 900
    tracemalloc.start()
    try:
        batch = Batch("slack", "src", Sizing(spill_dir=str(tmp_path)), {"A": HOUR})
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        for i in range(ROWS):  # rows interleave over 400 hour partitions, as a long backlog
            batch.add("A", _line(i), i.to_bytes(16, "big"), 1_700_000_000 + (i * 7919 % 400) * 3600)
        held, peak = (m - base for m in tracemalloc.get_traced_memory())
    finally:
        tracemalloc.stop()
    bound = SPILL_AT + ROWS * INDEX_BYTES_PER_ROW
    assert peak <= 1.25 * bound, f"peak {peak:,} B while adding {ROWS:,} lines; bound {bound:,}"
    assert len(batch._buffer) < SPILL_AT
    index = held - len(batch._buffer)
    assert index <= ROWS * INDEX_BYTES_PER_ROW, f"{index / ROWS:.0f} B of index a row"
    objects = list(batch.objects())
    assert len(objects) == 400
    assert sum(gzip.decompress(o.body).count(b"\n") for o in objects) == ROWS


ARENA_PROBE = """
import ctypes, os, sys, tempfile, threading
if sys.argv[1] == "limit":
    from connector.service.app import tune_interpreter
    tune_interpreter()
held, ready = [], threading.Barrier(9)
def work():
    held.append(bytes(64 * 1024))  # malloc from this thread's arena
    ready.wait()
threads = [threading.Thread(target=work) for _ in range(8)]
for t in threads:
    t.start()
ready.wait()
libc = ctypes.CDLL(None)
libc.fopen.restype = ctypes.c_void_p
path = tempfile.mktemp()
out = libc.fopen(path.encode(), b"w")
libc.malloc_info(0, ctypes.c_void_p(out))
libc.fclose(ctypes.c_void_p(out))
for t in threads:
    t.join()
with open(path) as f:
    print(f.read().count("<heap nr="))
os.unlink(path)
"""


def _arenas(mode: str) -> int:
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    proc = subprocess.run(
        [sys.executable, "-c", ARENA_PROBE, mode],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=ROOT,
        env=env,
    )
    return int(proc.stdout)


@pytest.mark.skipif(not hasattr(ctypes.CDLL(None), "malloc_info"), reason="glibc only")
def test_threads_share_at_most_malloc_arenas() -> None:
    """Eight threads that each allocate hold at most `MALLOC_ARENAS` glibc arenas once the
    interpreter is tuned; untuned, glibc gives them more (the control)."""
    assert _arenas("limit") <= MALLOC_ARENAS
    assert _arenas("default") > MALLOC_ARENAS
