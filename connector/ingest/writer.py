"""Writes a poll's full batches in order, on a thread of their own.

While one batch is finished (its compression drained), recorded as a write intent,
uploaded and committed, the poll goes on fetching, validating and compressing the next:
the sink's latency (an S3 PUT) and the commit no longer stall reading Slack.

At most one batch is in flight and the next waits for it, so batches commit in order,
a failed write stops the poll before anything after it is written, and the checkpoint
never passes a batch that did not land.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from connector.ingest.batch import Batch
from connector.stream.checkpoint import Checkpoint

Write = Callable[[Batch, Checkpoint | None], None]


class WriteBehind:
    def __init__(self, write: Write, name: str) -> None:
        self._write = write
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._future: Future[None] | None = None
        self.keys: set[bytes] = set()
        """Dedupe keys of the last batch handed over.

        Kept until the next hand-over, which first waits for this batch's commit: a page
        looked up in the state store before that commit is still checked against it.
        """

    def submit(self, batch: Batch, checkpoint: Checkpoint | None) -> None:
        """Hand a full batch over; raises what the previous write raised, if it failed."""
        self.wait()
        self.keys = batch.keys
        self._future = self._thread.submit(self._write, batch, checkpoint)

    def wait(self) -> None:
        future, self._future = self._future, None
        if future is not None:
            future.result()

    def shutdown(self) -> None:
        """Let a write in flight finish (its data is valid) and stop the thread."""
        self._thread.shutdown(wait=True)
