"""Searches from Slack in processes of their own, out of the daemon's way.

A search is DuckDB and Python work: run inside the daemon, it shares the interpreter lock
with ingestion, lease renewals and the probes. Here searches run in a pool of `processes`
spawned worker processes, started (and warmed: imports, a DuckDB connection) when the
pool is made, so at most that many run at once and a search pays no start-up; they run
at a lower CPU priority (`NICENESS`) than the daemon. A search
still running at `deadline` seconds (time waiting for a worker included) is stopped: its
pool is killed and replaced, and the answer says how long it searched and gives the CLI
command that finishes it, whose run is not bounded.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as Timeout
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from connector.config.settings import OutputConfig
from connector.indicators.match import Indicator
from connector.search import summary
from connector.search.query import Found, Searcher, SearchError, Window

_searcher: Searcher | None = None
"""The worker process's warm connection."""


class SearchWorkers:
    def __init__(self, output: OutputConfig, processes: int = 2, deadline: float = 60.0) -> None:
        self.output = output
        self.processes = processes
        self.deadline = deadline
        self._lock = threading.Lock()
        self._pool = self._start()

    def find(self, indicators: Sequence[Indicator], window: Window, limit: int) -> Found:
        """What `Searcher.find` answers, from a worker process; raises `SearchError`, also
        when the deadline passes (naming the command that finishes the search)."""
        start = time.monotonic()
        with self._lock:
            pool = self._pool
        try:
            future = pool.submit(_search, list(indicators), window, limit)
            found: Found = future.result(timeout=self.deadline)
        except Timeout:
            self._replace(pool)
            raise SearchError(_unfinished(indicators, window, limit, start)) from None
        except BrokenProcessPool:
            self._replace(pool)
            raise SearchError("the search process stopped; ask again") from None
        return found

    def close(self) -> None:
        with self._lock:
            _kill(self._pool)

    def _start(self) -> ProcessPoolExecutor:
        pool = ProcessPoolExecutor(
            self.processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_warm,
            initargs=(self.output.model_dump(),),
        )
        for _ in range(self.processes):
            pool.submit(_ready)
        return pool

    def _replace(self, pool: ProcessPoolExecutor) -> None:
        """Kill a pool that holds a search past its deadline, once, and start another."""
        with self._lock:
            if self._pool is pool:
                _kill(pool)
                self._pool = self._start()


def _kill(pool: ProcessPoolExecutor) -> None:
    processes = list(getattr(pool, "_processes", {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.kill()


def _unfinished(indicators: Sequence[Indicator], window: Window, limit: int, start: float) -> str:
    asked = Found([], [summary.Summary(i) for i in indicators], window, (), limit)
    took = time.monotonic() - start
    return (
        f"not finished after {took:.0f} s (the limit for searches from Slack); "
        f"all of it from the command line: {summary.rest_command(asked)}"
    )


NICENESS = 10
"""Workers run at a lower CPU priority: on a small host the daemon's own threads (polls,
lease renewals, probes) come first."""


def _warm(output: dict[str, Any]) -> None:
    """A worker's start: a lower priority, imports, and a connection kept for searches."""
    global _searcher
    with contextlib.suppress(OSError):
        os.nice(NICENESS)
    try:
        _searcher = Searcher(OutputConfig(**output))
    except SearchError:
        _searcher = None


def _ready() -> None:
    return None


def _search(indicators: list[Indicator], window: Window, limit: int) -> Found:
    """In the worker: one search (`SearchError` is raised back to the caller)."""
    if _searcher is None:
        raise SearchError("the output cannot be searched from this worker")
    return _searcher.find(indicators, window, limit=limit)
