"""Many small reads of an S3 output at once.

A search over S3 makes a few hundred small requests (a LIST page per partition listed,
a HEAD and two footer GETs per day file, a HEAD and a GET per object read), each mostly
waiting: DuckDB makes them one after another on its one thread. Here a few threads,
each with its own cursor on the search's DuckDB (the same secret, settings and caches),
make them side by side, and the caller takes the answers in order as they come,
decompressing the first while the next are on their way. A local output is read in the
calling thread: its reads do not wait.
"""

from __future__ import annotations

import itertools
import queue
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

import duckdb

T = TypeVar("T")
R = TypeVar("R")
Read = Callable[[duckdb.DuckDBPyConnection, T], R]

WORKERS = 8
"""Requests in flight: S3 answers each in tens of milliseconds, so eight overlap most of
the wait; more would hold more objects' bytes at once (`ahead`)."""
SESSION = (
    "SET enable_progress_bar = false",
    "SET parquet_metadata_cache = true",
    "SET enable_http_metadata_cache = true",
    "SET enable_external_file_cache = false",
)
"""Every connection of a search: no progress bar on stdout, Parquet footers and S3 HEADs
kept (shared by all cursors of one database), file contents not."""


def session(db: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    for statement in SESSION:
        db.execute(statement)
    return db


def remote(path: str) -> bool:
    return path.startswith("s3://")


def each(
    db: duckdb.DuckDBPyConnection,
    items: Sequence[T],
    read: Read[T, R],
    side_by_side: bool,
    ahead: int = WORKERS,
) -> Iterator[R]:
    """`read(connection, item)` for every item, answers in the items' order. Side by
    side: on `WORKERS` threads with a cursor each, at most `ahead` answers ahead of the
    caller (what they hold is bounded); else one after another on `db`. A read's error
    is raised where its answer is taken."""
    if not side_by_side or len(items) < 2:
        yield from (read(db, item) for item in items)
        return
    workers = min(WORKERS, len(items))
    cursors: queue.SimpleQueue[duckdb.DuckDBPyConnection] = queue.SimpleQueue()
    opened = [session(db.cursor()) for _ in range(workers)]
    for cursor in opened:
        cursors.put(cursor)

    def run(item: T) -> R:
        cursor = cursors.get()
        try:
            return read(cursor, item)
        finally:
            cursors.put(cursor)

    rest = iter(items)
    try:
        with ThreadPoolExecutor(workers, thread_name_prefix="search-read") as pool:
            pending: deque[Future[R]] = deque(
                pool.submit(run, item) for item in itertools.islice(rest, max(ahead, 1))
            )
            while pending:
                answer = pending.popleft().result()
                for item in itertools.islice(rest, 1):
                    pending.append(pool.submit(run, item))
                yield answer
    finally:
        for cursor in opened:
            cursor.close()
