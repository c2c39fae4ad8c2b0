"""Leases on the shared DynamoDB table (moto's server over 127.0.0.1): spread, rebalance,
failover, fencing of a replica that lost its lease, and one refresh of a single-use token.

Lease times are short (1.5 s) so each test takes a few seconds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from pydantic import SecretStr

from connector import clock
from connector.oauth import TokenSet
from connector.state import LeaseLost
from connector.state.dynamodb import DynamoStore
from connector.state.keys import seen_key
from connector.tokens import RotatingToken
from tests.conftest import dynamodb_options
from tests.fakes.oauth_server import FakeSlackOAuth

LEASE = 1.5
STREAMS = [(f"src{i}", lt) for i in range(10) for lt in ("audit", "access", "integration")]


@pytest.fixture
def options(moto_endpoint: str) -> Any:
    return dynamodb_options(moto_endpoint, lease_seconds=LEASE, renew_seconds=0.25)


@pytest.fixture
def replicas(options: Any) -> Iterator[Callable[..., DynamoStore]]:
    opened: list[DynamoStore] = []

    def start(streams: list[tuple[str, str]] = STREAMS, **kw: Any) -> DynamoStore:
        store = options.model_copy(update=kw).open()
        assert isinstance(store, DynamoStore)
        store.claim(streams)
        opened.append(store)
        return store

    yield start
    for store in opened:
        store.close()


def wait_for(check: Callable[[], bool], timeout: float = 15.0) -> float:
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            raise AssertionError("condition not reached")
        time.sleep(0.05)
    return time.monotonic() - started


def held(store: DynamoStore, streams: list[tuple[str, str]] = STREAMS) -> set[tuple[str, str]]:
    return {s for s in streams if store.owns(*s)}


def pause(store: DynamoStore) -> None:
    """As SIGSTOP would: no more renewals, and its own clock stops, so it still believes."""
    assert store.leases is not None
    frozen = time.monotonic()
    store.leases.stop(release=False)
    store.leases._now = lambda: frozen


def test_three_replicas_share_ten_sources_evenly_and_never_twice(replicas: Any) -> None:
    stores = [replicas(replica_id=f"r{i}") for i in range(3)]
    overlaps: list[set[tuple[str, str]]] = []

    def balanced() -> bool:
        sets = [held(s) for s in stores]
        overlaps.extend(a & b for i, a in enumerate(sets) for b in sets[i + 1 :] if a & b)
        return sorted(len(x) for x in sets) == [10, 10, 10]

    wait_for(balanced)
    assert overlaps == []
    assert set().union(*(held(s) for s in stores)) == set(STREAMS)
    assert [s.leases_held() for s in stores] == [10, 10, 10]


def test_a_joining_replica_gets_its_share_and_a_leaving_one_hands_it_back(replicas: Any) -> None:
    first = replicas(replica_id="a")
    assert held(first) == set(STREAMS)
    second = replicas(replica_id="b")
    wait_for(lambda: len(held(first)) == 15 and len(held(second)) == 15)
    assert not held(first) & held(second)
    second.close()
    took = wait_for(lambda: len(held(first)) == 30)
    assert took < LEASE, "a clean shutdown releases its leases; no need to wait them out"


def test_a_dead_replicas_leases_are_taken_within_a_lease_period_and_a_round(
    replicas: Any,
) -> None:
    streams = STREAMS[:6]
    first = replicas(streams, replica_id="a")
    second = replicas(streams, replica_id="b")
    wait_for(lambda: len(held(first, streams)) == 3 and len(held(second, streams)) == 3)
    lost = held(first, streams)
    assert first.leases is not None
    first.leases.stop(release=False)  # dies: no renewal, no release
    died = time.monotonic()
    wait_for(lambda: held(second, streams) == set(streams))
    failover = time.monotonic() - died
    assert LEASE * 0.9 <= failover <= 2 * LEASE + 0.5, failover
    assert lost


def test_a_paused_replica_cannot_commit_or_record_keys_after_its_lease_was_taken(
    replicas: Any,
) -> None:
    stream = ("acme", "audit")
    old = replicas([stream], replica_id="old")
    old.commit(*stream, keys=[seen_key("0" * 32, 1)], checkpoint={"at": 1})
    pause(old)
    new = replicas([stream], replica_id="new")
    wait_for(lambda: new.owns(*stream))
    new.commit(*stream, keys=[seen_key("1" * 32, 2)], checkpoint={"at": 2})
    new.set_status(*stream, {"state": "ok", "by": "new"})
    assert old.owns(*stream), "paused, it still believes it holds the lease"
    late = seen_key("2" * 32, 3)
    with pytest.raises(LeaseLost):
        old.commit(*stream, keys=[late], checkpoint={"at": 99})
    with pytest.raises(LeaseLost):
        old.set_status(*stream, {"state": "ok", "by": "old"})
    assert new.checkpoint(*stream) == {"at": 2}
    assert new.status(*stream) == {"state": "ok", "by": "new"}
    assert new.seen(*stream, [late]) == set()
    assert new.count_seen(*stream) == 2


def test_a_replica_past_its_lease_stops_trusting_it_before_anyone_may_take_it(
    replicas: Any,
) -> None:
    stream = ("acme", "audit")
    store = replicas([stream], replica_id="a")
    assert store.leases is not None
    store.leases.stop(release=False)
    stopped = time.monotonic()
    wait_for(lambda: not store.owns(*stream))
    assert time.monotonic() - stopped <= LEASE
    with pytest.raises(LeaseLost):
        store.commit(*stream, checkpoint={"at": 1})


def test_a_single_use_refresh_token_is_spent_by_one_replica_only(options: Any) -> None:
    with FakeSlackOAuth(expires_in=43_200) as fake:
        access, refresh = fake.issue_pair()
        due = clock.now_ts() + 60  # inside refresh_before_seconds: every replica wants to refresh
        options.token_storage("acme", None).save(
            TokenSet(SecretStr(access), SecretStr(refresh), expires_at=due, scopes=["x"])
        )
        import httpx

        results: list[str] = []
        errors: list[BaseException] = []
        gate = threading.Barrier(4)

        def replica() -> None:
            token = RotatingToken(
                options.token_storage("acme", None),
                client_id=fake.client_id,
                client_secret=SecretStr(fake.client_secret),
                token_url=fake.token_url,
                source_id="acme",
            )
            with httpx.Client(timeout=10) as http:
                gate.wait()
                try:
                    results.append(token.current(http).get_secret_value())
                except BaseException as exc:
                    errors.append(exc)

        threads = [threading.Thread(target=replica) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert errors == []
        assert fake.calls["refresh_token"] == 1, fake.calls
        assert len(set(results)) == 1 and results[0] != access
        assert fake.used_refresh_tokens == {refresh}


def test_a_lease_being_polled_is_handed_over_only_when_its_poll_ends(replicas: Any) -> None:
    streams = STREAMS[:2]
    first = replicas(streams, replica_id="a")
    assert first.leases is not None
    with first.polling(*streams[0]) as mine, first.polling(*streams[1]) as also:
        assert mine and also
        second = replicas(streams, replica_id="b")
        time.sleep(4 * 0.25 + 0.5)
        assert held(first, streams) == set(streams), "both still polled: nothing handed over"
        assert held(second, streams) == set()
        starts = []
        for stream in streams:
            with first.polling(*stream) as again:
                starts.append(again)
        assert sorted(starts) == [False, True], "the one being handed over starts no new poll"
    wait_for(lambda: len(held(first, streams)) == 1 and len(held(second, streams)) == 1)


def test_a_poll_that_outlived_its_lease_cannot_commit_after_its_replica_took_it_back(
    replicas: Any,
) -> None:
    """Paused mid-poll, the lease went to another replica and came back (rebalance): the
    poll read a checkpoint the other replica has since moved, so its writes are refused;
    the next poll, under the new epoch, commits."""
    stream = ("acme", "audit")
    first = replicas([stream], replica_id="a")
    assert first.leases is not None
    with first.polling(*stream) as mine:
        assert mine
        first.commit(*stream, checkpoint={"at": 1})
        pause(first)
        second = replicas([stream], replica_id="b")
        wait_for(lambda: second.owns(*stream))
        second.commit(*stream, checkpoint={"at": 2})
        second.close()
        first.leases._now = time.monotonic
        first.leases.start([stream])
        wait_for(lambda: first.leases is not None and first.leases.epoch(stream) is not None)
        assert not first.owns(*stream)
        with pytest.raises(LeaseLost):
            first.commit(*stream, checkpoint={"at": 1}, keys=[seen_key("3" * 32, 3)])
        assert first.checkpoint(*stream) == {"at": 2}
    with first.polling(*stream) as mine:
        assert mine
        first.commit(*stream, checkpoint={"at": 3})
    assert first.checkpoint(*stream) == {"at": 3}
    assert first.seen(*stream, [seen_key("3" * 32, 3)]) == set()
