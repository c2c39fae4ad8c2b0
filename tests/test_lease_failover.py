"""How soon a dead holder's leases are taken, on the shared table (moto's server over
127.0.0.1): at the moment they expire, between the spread's reads; all at once; and seen
in the lease count and the table when the take's write returns, before any poll."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from connector.state.dynamodb import DynamoStore
from connector.state.leases import LEASES, Leases, Stream, lease_sk
from connector.state.table import Table, key
from tests.conftest import dynamodb_options

LEASE = 2.0
READS = 10.0
"""The spread reads every 10 s here, five lease periods: a take that waited for the next
read would come 8 s late."""


@pytest.fixture
def options(moto_endpoint: str) -> Any:
    return dynamodb_options(moto_endpoint, lease_seconds=LEASE)


@pytest.fixture
def leases(options: Any) -> Iterator[Leases]:
    table = Table.for_leases(options)
    taker = Leases(table, "b", lease_seconds=LEASE, renew_every=READS)
    yield taker
    taker.stop(release=False)


def orphan(table: Table, stream: Stream, owner: str = "ghost") -> None:
    """A lease item its holder wrote once and never renewed (it died)."""
    table.put(
        {
            **key(LEASES, lease_sk(stream)),
            "owner": {"S": owner},
            "epoch": {"N": "3"},
            "counter": {"N": "41"},
        }
    )


def test_a_dead_holders_lease_is_taken_when_it_expires_not_at_the_next_read(
    leases: Leases,
) -> None:
    stream = ("acme", "audit")
    orphan(leases.table, stream)
    seen: list[tuple[float, int, str]] = []

    def taken(s: Stream) -> None:
        item = leases.table.get(LEASES, lease_sk(s))
        assert item is not None
        seen.append((time.monotonic(), leases.count(), item["owner"]["S"]))

    started = time.monotonic()
    leases.start([stream], on_taken=taken)
    deadline = started + READS + LEASE
    while not seen and time.monotonic() < deadline:
        time.sleep(0.05)
    assert seen, "never taken"
    at, count, owner = seen[0]
    assert LEASE <= at - started < READS - 2, at - started
    assert (count, owner) == (1, "b"), "the lease count and the table show the take at once"
    assert leases.epoch(stream) == 4


def test_a_lease_renewed_before_it_expired_stays_with_its_holder_and_is_tried_once(
    leases: Leases,
) -> None:
    """The take at expiry is conditioned on the value last read: a renewal in between
    makes it fail, and the lease is watched afresh from the next read, not retried."""
    stream = ("acme", "audit")
    orphan(leases.table, stream)
    calls: list[str] = []
    real = leases.control.conditional

    def counted(method: str, **kw: Any) -> bool:
        calls.append(method)
        return real(method, **kw)

    leases.control.conditional = counted  # type: ignore[method-assign]
    leases.start([stream])
    time.sleep(LEASE / 2)
    leases.table.call(
        "update_item",
        Key=key(LEASES, lease_sk(stream)),
        UpdateExpression="SET #c = :c",
        ExpressionAttributeNames={"#c": "counter"},
        ExpressionAttributeValues={":c": {"N": "42"}},
    )
    time.sleep(2 * LEASE)
    item = leases.table.get(LEASES, lease_sk(stream))
    assert item is not None and (item["owner"]["S"], item["counter"]["N"]) == ("ghost", "42")
    assert leases.count() == 0
    assert calls == ["put_item"]


def test_a_dead_holders_leases_are_taken_together_not_one_after_another(
    leases: Leases,
) -> None:
    streams = [(f"src{i}", "audit") for i in range(8)]
    for stream in streams:
        orphan(leases.table, stream)
    control = leases.control
    real = control.conditional
    lock = threading.Lock()
    flight = [0, 0]

    def slow(method: str, **kw: Any) -> bool:
        with lock:
            flight[0] += 1
            flight[1] = max(flight)
        time.sleep(0.3)
        try:
            return real(method, **kw)
        finally:
            with lock:
                flight[0] -= 1

    control.conditional = slow  # type: ignore[method-assign]
    leases.start(streams)
    deadline = time.monotonic() + READS
    while leases.count() < len(streams) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert leases.count() == len(streams)
    assert flight[1] > 1, "takes were sent one at a time"


def test_the_lease_count_and_state_show_name_the_taker_when_it_takes_before_any_poll(
    options: Any,
) -> None:
    """What `/metrics` (`leases_held`) and `state show` (`leases_now`) read, at the moment
    the daemon is told of the take (which is what starts the stream's first poll)."""
    stream = ("acme", "access")
    store = options.model_copy(update={"replica_id": "b"}).open()
    assert isinstance(store, DynamoStore)
    orphan(store.table, stream)
    seen: list[tuple[int, str]] = []
    store.claim([stream], on_taken=lambda s: seen.append((store.leases_held(), _owner(store, s))))
    try:
        deadline = time.monotonic() + 3 * LEASE
        while not seen and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        store.close()
    assert seen == [(1, "b")]


def _owner(store: DynamoStore, stream: Stream) -> str:
    owner: str = store.leases_now()[stream]["owner"]
    return owner
