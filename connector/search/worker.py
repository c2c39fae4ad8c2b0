"""Searches from Slack in processes of their own, out of the daemon's way.

A search is DuckDB and Python work: run inside the daemon, it shares the interpreter lock
with ingestion, lease renewals and the probes. Here searches run in a pool of `processes`
spawned worker processes, started (and warmed: imports, a DuckDB connection) when the
pool is made, so at most that many run at once and a search pays no start-up; they run
at a lower CPU priority (`NICENESS`) than the daemon. A search
still running at `deadline` seconds (time waiting for a worker included) is stopped: its
pool is killed and replaced, and the answer says how long it searched, how far it got
and gives the CLI command that finishes it, whose run is not bounded.

How far: a worker searches in time slices, newest first (`slices`), and after each one
puts its `Progress` on the pool's queue; a thread of the daemon keeps the latest per
search. A killed pool's queue is dropped with it (a kill may cut a message in half).
"""

from __future__ import annotations

import contextlib
import itertools
import multiprocessing
import os
import queue
import threading
import time
from collections.abc import Sequence
from concurrent.futures import CancelledError, ProcessPoolExecutor
from concurrent.futures import TimeoutError as Timeout
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any

from connector.config.settings import OutputConfig
from connector.indicators.match import Indicator
from connector.search import summary
from connector.search.query import Searcher
from connector.search.results import Found, SearchError, Window
from connector.search.slices import Progress
from connector.search.slices import find as find_in_slices

_searcher: Searcher | None = None
"""The worker process's warm connection."""
_progress: Any = None
"""The worker process's end of its pool's progress queue."""


@dataclass
class _Pool:
    """A process pool, the queue its workers report progress on, and what they said."""

    executor: ProcessPoolExecutor
    progress: Any
    latest: dict[int, Progress] = field(default_factory=dict)
    stopped: threading.Event = field(default_factory=threading.Event)

    def listen(self) -> None:
        """Keep the latest progress of each search until the pool is stopped."""
        while not self.stopped.is_set():
            try:
                search, progress = self.progress.get(timeout=0.2)
            except queue.Empty:
                continue
            except (EOFError, OSError, ValueError):
                return
            self.latest[search] = progress


class SearchWorkers:
    def __init__(self, output: OutputConfig, processes: int = 2, deadline: float = 60.0) -> None:
        self.output = output
        self.processes = processes
        self.deadline = deadline
        self._lock = threading.Lock()
        self._ids = itertools.count()
        self._closed = False
        self._pool = self._start()

    def find(self, indicators: Sequence[Indicator], window: Window, limit: int) -> Found:
        """What `Searcher.find` answers, from a worker process; raises `SearchError`, also
        when the deadline passes (saying how far it got and naming the command that
        finishes the search)."""
        start = time.monotonic()
        search = next(self._ids)
        with self._lock:
            pool = self._pool
        try:
            future = pool.executor.submit(_search, search, list(indicators), window, limit)
            found: Found = future.result(timeout=self.deadline)
        except Timeout:
            progress = pool.latest.get(search)
            self._replace(pool)
            raise SearchError(_unfinished(indicators, window, limit, start, progress)) from None
        except (CancelledError, RuntimeError) as exc:
            if self._closed:
                raise SearchError("the connector is shutting down; ask again later") from None
            if not isinstance(exc, BrokenProcessPool | CancelledError):
                raise
            self._replace(pool)
            raise SearchError("the search process stopped; ask again") from None
        finally:
            pool.latest.pop(search, None)
        return found

    def ready(self, timeout: float) -> bool:
        """Whether every worker of the current pool has started and warmed up."""
        with self._lock:
            pool = self._pool
        futures = [pool.executor.submit(_ready) for _ in range(self.processes)]
        try:
            for future in futures:
                future.result(timeout=timeout)
        except (Timeout, BrokenProcessPool):
            return False
        return True

    def close(self) -> None:
        """Stop the pool for good: a search still waiting or running is answered with a
        `SearchError`, and no pool is started after this."""
        with self._lock:
            self._closed = True
            _kill(self._pool)

    def _start(self) -> _Pool:
        context = multiprocessing.get_context("spawn")
        progress = context.Queue()
        executor = ProcessPoolExecutor(
            self.processes,
            mp_context=context,
            initializer=_warm,
            initargs=(self.output.model_dump(), progress),
        )
        for _ in range(self.processes):
            executor.submit(_ready)
        pool = _Pool(executor, progress)
        threading.Thread(target=pool.listen, name="search-progress", daemon=True).start()
        return pool

    def _replace(self, pool: _Pool) -> None:
        """Kill a pool that holds a search past its deadline, once, and start another."""
        with self._lock:
            if self._pool is pool and not self._closed:
                _kill(pool)
                self._pool = self._start()


def _kill(pool: _Pool) -> None:
    processes = list((getattr(pool.executor, "_processes", None) or {}).values())
    pool.executor.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.kill()
    pool.stopped.set()
    pool.progress.cancel_join_thread()
    pool.progress.close()


def _unfinished(
    indicators: Sequence[Indicator],
    window: Window,
    limit: int,
    start: float,
    progress: Progress | None,
) -> str:
    asked = Found([], [summary.Summary(i) for i in indicators], window, (), limit)
    took = time.monotonic() - start
    got = progress.phrase() if progress else "no part of it searched yet"
    return (
        f"not finished after {took:.3g} s (the limit for searches from Slack): {got}; "
        f"all of it from the command line: {summary.rest_command(asked)}"
    )


NICENESS = 10
"""Workers run at a lower CPU priority: on a small host the daemon's own threads (polls,
lease renewals, probes) come first."""


def _warm(output: dict[str, Any], progress: Any) -> None:
    """A worker's start: a lower priority, imports, and a connection kept for searches."""
    global _searcher, _progress
    _progress = progress
    with contextlib.suppress(OSError):
        os.nice(NICENESS)
    try:
        _searcher = Searcher(OutputConfig(**output))
    except SearchError:
        _searcher = None


def _ready() -> None:
    return None


def _search(search: int, indicators: list[Indicator], window: Window, limit: int) -> Found:
    """In the worker: one search, slice by slice, telling the daemon how far it got
    (`SearchError` is raised back to the caller)."""
    if _searcher is None:
        raise SearchError("the output cannot be searched from this worker")

    def report(progress: Progress) -> None:
        _progress.put((search, progress))

    return find_in_slices(_searcher, indicators, window, limit, report)
