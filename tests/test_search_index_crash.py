"""A SIGKILL between a data object and its index loses and doubles nothing.

A child process polls through the real pipeline, with the search index as its derived
output and a local sink that kills the process (SIGKILL, nothing runs after it) right
after the n-th upload, whatever it was: a data object without its index yet, or an index.
The next poll, in this process, settles the crash: every data object that exists gets its
index (the same bytes the index of its rows has, so the same postings and counts), no
index names a missing object, and every event lands once.
"""

from __future__ import annotations

import gzip
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from connector.ingest.derived import Derivations
from connector.ingest.pipeline import BatchLimits, Pipeline
from connector.logtypes.base import Page, PollContext
from connector.search import index
from connector.sinks.local import LocalSink
from connector.state import SqliteOptions
from tests.test_derived import SOURCE, Scripted, event

PAGES: list[list[int | str]] = [[1, 2, 3], [4, 5, 6], [7, 8]]
CHILD = """
import os, signal, sys
from pathlib import Path
from connector.sinks.local import LocalSink
from tests.test_search_index_crash import poll

class Killing(LocalSink):
    puts = 0
    def put(self, key, body, check_lease=None):
        super().put(key, body, check_lease)
        Killing.puts += 1
        if Killing.puts == int(sys.argv[2]):
            os.kill(os.getpid(), signal.SIGKILL)

poll(Path(sys.argv[1]), Killing(Path(sys.argv[1]) / "out"))
"""


class Unmoved(Scripted):
    """The pages without checkpoints: the rows are written in one batch at the poll's end,
    one object per event hour."""

    def pages(self, ctx: PollContext) -> Iterator[Page]:
        for ids in self.script:
            yield Page([event(n) for n in ids if isinstance(n, int)])


def poll(root: Path, sink: LocalSink) -> None:
    store = SqliteOptions(path=str(root / "state.db")).open()
    store.claim([("acme", "audit")])
    try:
        derived = Derivations([index.SearchIndex(sink, "s")])
        pipeline = Pipeline(store, sink, BatchLimits("s", max_events=3), derived=derived)
        ctx = PollContext("acme", None, None, 0, 0, 0)  # type: ignore[arg-type]
        pipeline.poll(SOURCE, Unmoved(PAGES), ctx)
    finally:
        store.close()


@pytest.mark.slow
@pytest.mark.parametrize("killed_after", [1, 2, 3, 4])
def test_sigkill_between_object_and_index(tmp_path: Path, killed_after: int) -> None:
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(tmp_path), str(killed_after)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    out = tmp_path / "out"
    landed = sorted(out.rglob("*.json.gz"))
    indexes = sorted(out.rglob("*.parquet"))
    assert len(indexes) == (killed_after - 1) // 2 + (killed_after % 2 == 0)
    assert len(landed) == (killed_after + 1) // 2

    poll(tmp_path, LocalSink(out))
    landed = sorted(out.rglob("*.json.gz"))
    ids: list[str] = []
    for data in landed:
        key = str(data.relative_to(out))
        lines = gzip.decompress(data.read_bytes()).splitlines()
        ids += [orjson.loads(line)["id"] for line in lines]
        where = index.index_key(key, "s")
        assert where is not None
        assert (out / where).read_bytes() == index.build(lines), key
    assert sorted(ids) == sorted(f"evt-{n}" for n in range(1, 9))
    indexed = {index.data_key(str(p.relative_to(out)), "s") for p in out.rglob("*.parquet")}
    assert indexed == {str(p.relative_to(out)) for p in landed}
