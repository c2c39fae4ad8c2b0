"""`/seclogs` against hostile or careless clients, over real sockets: a burst of 200
connections at once, clients that hang up early, sockets opened and left idle. Every
genuine request is answered, stderr holds log lines only, and threads stay bounded."""

from __future__ import annotations

import hashlib
import hmac
import socket
import struct
import threading
import time
from typing import Any

import pytest

from connector import httpd
from tests.test_slash_command import SECRET, Endpoint
from tests.test_slash_command import _secret as _secret
from tests.test_slash_command import endpoint_factory as endpoint_factory

PATH = "/slack/commands"


def request(body: bytes, *, stamp: int | None = None, secret: str = SECRET) -> bytes:
    """A whole signed HTTP request, as bytes for a raw socket."""
    ts = str(stamp if stamp is not None else int(time.time()))
    digest = hmac.new(secret.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    head = (
        f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n"
        f"X-Slack-Request-Timestamp: {ts}\r\nX-Slack-Signature: v0={digest}\r\n\r\n"
    )
    return head.encode() + body


def status_of(port: int, data: bytes, start: threading.Barrier | None = None) -> int | str:
    """The status line's code, or the name of the error the connection ended in."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=60) as conn:
            if start is not None:
                start.wait(60)
            conn.sendall(data)
            answer = b""
            while b"\r\n" not in answer:
                chunk = conn.recv(4096)
                if not chunk:
                    return "closed"
                answer += chunk
            return int(answer.split(b" ", 2)[1])
    except OSError as exc:
        return type(exc).__name__


def test_two_hundred_signed_commands_at_once_are_all_answered(endpoint_factory: Any) -> None:
    """The standard library's listen queue of 5 reset 135 of these 200."""
    ep: Endpoint = endpoint_factory()
    bodies = [ep.form("help", trigger_id=f"burst-{i}") for i in range(200)]
    start = threading.Barrier(len(bodies))
    results: list[int | str] = []

    def one(body: bytes) -> None:
        results.append(status_of(ep.server.port, request(body), start))

    threads = [threading.Thread(target=one, args=(b,)) for b in bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert sorted(results, key=str) == [200] * 200, {str(r) for r in results}
    assert ep.server.executed == 200


def test_clients_that_hang_up_early_leave_log_lines_not_tracebacks(
    endpoint_factory: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    ep: Endpoint = endpoint_factory()
    port = ep.server.port
    whole = request(ep.form("help"))
    cut_short = [
        b"",  # connects and leaves
        whole[:20],  # half a request line
        whole[: whole.index(b"\r\n\r\n")],  # headers, never finished
        whole[:-5],  # the body cut short
        whole,  # the whole request, then gone before the answer
    ]
    for data in cut_short:
        conn = socket.create_connection(("127.0.0.1", port), timeout=10)
        conn.sendall(data)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()  # a reset, not a polite close
    time.sleep(1.0)
    assert status_of(port, request(ep.form("help", trigger_id="after"))) == 200
    err = capfd.readouterr().err
    assert "Traceback" not in err and "Exception occurred" not in err, err[:2000]


def test_idle_sockets_are_closed_and_hold_a_bounded_number_of_threads(
    endpoint_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """200 sockets opened and left silent once held 213 threads, for ever."""
    monkeypatch.setattr(httpd, "READ_TIMEOUT_SECONDS", 1.0)
    monkeypatch.setattr(httpd, "MAX_HANDLERS", 8)
    ep: Endpoint = endpoint_factory()
    before = threading.active_count()
    idle = [socket.create_connection(("127.0.0.1", ep.server.port), timeout=60) for _ in range(40)]
    try:
        time.sleep(0.5)
        assert threading.active_count() - before <= 8
        for conn in idle:  # each is closed by the server once its read timeout passed
            assert conn.recv(1024) == b""
    finally:
        for conn in idle:
            conn.close()
    assert status_of(ep.server.port, request(ep.form("help", trigger_id="after"))) == 200
