"""The process-wide memory budget: how many Slack pages are parsed, and how many batches
are compressed and uploaded, at any moment across every source and log type.

Peak memory is then the size of those few pages and objects, not a multiple of the
number of sources polling at once. A page slot is taken just before a request is sent
(after the rate limiter's wait, so a source waiting for its budget blocks no one), given
back if the request fails (so retry back-off holds nothing) and otherwise kept until the
pipeline has turned the page into rows. The response body is capped as it is read.

`limit_malloc_arenas` keeps what glibc holds for freed memory from multiplying by the
number of threads (see its docstring).
"""

from __future__ import annotations

import ctypes
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

DEFAULT_PAGES = 4
DEFAULT_WRITES = 2
DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024
MALLOC_ARENAS = 2
_M_ARENA_MAX = -8  # glibc's mallopt parameter number


def limit_malloc_arenas(arenas: int = MALLOC_ARENAS) -> bool:
    """Let every thread allocate from at most `arenas` glibc malloc arenas; call before
    any thread starts. Whether it took effect is returned.

    glibc gives threads arenas of their own, up to 8 per core, and an arena keeps the
    pages it grew to after the memory is freed. The 32 scheduler workers and their write
    threads spread over up to 16 arenas (2 cores), each holding its own high-water mark
    of 50 sources' first polls: with 2 arenas the same fleet, run side by side, peaked at
    183 MB instead of 278 at the same CPU (docs/benchmarks.md). Python allocates under
    the GIL, so fewer arenas add little lock contention.
    An operator's own `MALLOC_ARENA_MAX` wins; other C libraries are left alone.
    """
    if "MALLOC_ARENA_MAX" in os.environ:
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_ARENA_MAX, arenas))


class MemoryBudget:
    def __init__(
        self,
        pages: int = DEFAULT_PAGES,
        writes: int = DEFAULT_WRITES,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        self._local = threading.local()
        self.configure(pages, writes, max_response_bytes)

    def configure(self, pages: int, writes: int, max_response_bytes: int) -> None:
        """Set the bounds; call at start-up, before any poll runs."""
        self.pages = pages
        self.writes = writes
        self.max_response_bytes = max_response_bytes
        self._pages = threading.BoundedSemaphore(pages)
        self._writes = threading.BoundedSemaphore(writes)

    @contextmanager
    def poll(self) -> Iterator[None]:
        """Pages fetched on this thread inside the block count against the budget."""
        local = self._local
        local.polling, local.page = True, None
        try:
            yield
        finally:
            self.page_done()
            local.polling = False

    def take_page(self) -> None:
        """Before a request: wait for a page slot, unless this thread has one already."""
        local = self._local
        if getattr(local, "polling", False) and local.page is None:
            slots = self._pages
            slots.acquire()
            local.page = slots

    def page_done(self) -> None:
        """The page is rows now (or its request failed): give its slot back."""
        local = self._local
        slots, local.page = getattr(local, "page", None), None
        if slots is not None:
            slots.release()

    @contextmanager
    def write(self) -> Iterator[None]:
        """Compressing and uploading one batch."""
        slots = self._writes
        with slots:
            yield


MEMORY = MemoryBudget()
