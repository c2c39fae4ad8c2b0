"""moto's server mode on 127.0.0.1, with its DynamoDB requests served one at a time.

moto's `TransactWriteItems` deep-copies the tables it touches so it can roll back, and a
write that lands from another request thread meanwhile makes the copy fail: moto answers
500 (`dictionary changed size during iteration`), a fault no DynamoDB would give. Tests
and benchmarks that share moto between replicas measure the connector, not that, so every
DynamoDB request here holds one lock while moto serves it (moto is bound by one GIL, so
this costs little). S3 requests are untouched. Delays and faults a test wants go in front
of moto, in `tests.fakes.dynamodb_proxy`, outside the lock.

    python -m tests.fakes.moto_server PORT     # the same, as its own process
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

_LOCK = threading.Lock()
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}
"""The fake credentials and region every client of this moto uses."""


def serialise_dynamodb() -> None:
    """Make moto's DynamoDB handler take `_LOCK` around each request (once per process)."""
    from moto.dynamodb.responses import DynamoHandler

    original: Callable[[Any], Any] = DynamoHandler.call_action
    if getattr(original, "serialised", False):
        return

    def call_action(self: Any) -> Any:
        with _LOCK:
            return original(self)

    call_action.serialised = True  # type: ignore[attr-defined]
    DynamoHandler.call_action = call_action  # type: ignore[method-assign]


@contextlib.contextmanager
def moto_endpoint() -> Iterator[str]:
    """A moto server on a free port of 127.0.0.1, DynamoDB serialised; its URL."""
    from moto.server import ThreadedMotoServer

    serialise_dynamodb()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def main(argv: list[str]) -> None:
    from moto.server import main as serve

    serialise_dynamodb()
    serve(["-H", "127.0.0.1", "-p", argv[0]])


if __name__ == "__main__":
    main(sys.argv[1:])
