"""The HTTP server under every listener the daemon opens (probes and metrics, `/seclogs`).

The standard library's `ThreadingHTTPServer` is built for a trusted network: a listen
queue of 5 (a burst of 200 connections has most of them reset), a thread per connection
with no limit, no read timeout (a client that opens a socket and sends nothing holds a
thread for ever), and a raw traceback on stderr when a client hangs up early. Here the
queue is long, at most `max_handlers` connections are served at once while the rest wait
in the queue, an idle or slow socket is closed after `read_timeout` seconds, and a
failed connection is one log line.
"""

from __future__ import annotations

import logging
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

log = logging.getLogger(__name__)

LISTEN_QUEUE = 1024
"""Connections the kernel holds until one is accepted (capped by net.core.somaxconn)."""
MAX_HANDLERS = 32
READ_TIMEOUT_SECONDS = 10.0


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = LISTEN_QUEUE

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        *,
        name: str,
        max_handlers: int | None = None,
        read_timeout: float | None = None,
    ) -> None:
        self.name = name
        self.read_timeout = READ_TIMEOUT_SECONDS if read_timeout is None else read_timeout
        self.max_handlers = MAX_HANDLERS if max_handlers is None else max_handlers
        self._slots = threading.BoundedSemaphore(self.max_handlers)
        self._closing = threading.Event()
        super().__init__(address, handler)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def process_request(self, request: Any, client_address: Any) -> None:
        """Wait for a free handler; meanwhile new connections queue in the kernel."""
        while not self._slots.acquire(timeout=0.5):
            if self._closing.is_set():
                self.shutdown_request(request)
                return
        request.settimeout(self.read_timeout)
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def close(self) -> None:
        self._closing.set()
        self.shutdown()
        self.server_close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up early or went quiet (BrokenPipeError, ConnectionResetError,
        a read timeout) is routine; the default prints a raw traceback on stderr, which
        breaks the promise that every stderr line is a log line. One quiet line instead."""
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError | TimeoutError):
            log.debug(
                "connection closed early", extra={"server": self.name, "error": type(exc).__name__}
            )
            return
        log.warning("request failed", extra={"server": self.name, "error": type(exc).__name__})
