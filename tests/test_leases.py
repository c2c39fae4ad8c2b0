"""Leases on the shared DynamoDB table (moto's server over 127.0.0.1): spread, rebalance,
failover, fencing of a replica that lost its lease, and one refresh of a single-use token.

Lease times are short (1.5 s) so each test takes a few seconds. Bounds on how long
something may take carry `SLACK` (several seconds, for 2 loaded cores); a claim that
something happens *before* a lease runs out is checked on the table or on the replica's
own deadline, or with `LONG_LEASE`, never against a sub-second margin.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from pydantic import SecretStr

from connector import clock
from connector.credentials.rotation import RotatingToken
from connector.slack.tokenset import TokenSet
from connector.state import LeaseLost
from connector.state.base import StateError
from connector.state.dynamodb import DynamoStore
from connector.state.keys import seen_key
from connector.state.renewal import Writer, lease_sk
from connector.state.takes import Taken, Taker
from tests.conftest import dynamodb_options
from tests.fakes.oauth_server import FakeSlackOAuth

LEASE = 1.5
LONG_LEASE = 6.0
"""For tests whose claim is that something happens well inside a lease period."""
SLACK = 5.0
"""What a loaded 2-core machine may add to any measured duration."""
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


def wait_for(check: Callable[[], bool], timeout: float = 30.0) -> float:
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
    given_back = held(second)
    second.close()
    owners = {s: first.table.get("L", f"{s[0]}#{s[1]}") for s in given_back}
    assert all(item is not None and item["owner"]["S"] in ("", "a") for item in owners.values()), (
        "a clean shutdown releases its leases; no need to wait them out"
    )
    wait_for(lambda: len(held(first)) == 30)


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
    assert LEASE * 0.9 <= failover <= 2 * LEASE + SLACK, failover
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
    assert store.leases.held()[stream].valid_until < stopped + LEASE, (
        "its own deadline falls inside the lease its last renewal started"
    )
    wait_for(lambda: not store.owns(*stream))
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


@pytest.mark.slow
def test_survivors_cover_every_orphan_above_their_share_and_keep_it_covered(
    replicas: Any,
) -> None:
    """Coverage first: when a replica dies, the two left take all of its streams, and
    no stream is handed back (uncovered) while the dead one is still counted. With a
    lease of `LONG_LEASE`, a stream handed back and taken at once (a spread round) and
    one left uncovered for a lease period differ by seconds, not by a scheduler's hiccup."""
    streams = STREAMS[:9]
    stores = [replicas(streams, replica_id=f"r{i}", lease_seconds=LONG_LEASE) for i in range(3)]
    wait_for(lambda: sorted(len(held(s, streams)) for s in stores) == [3, 3, 3], 60)
    dead, survivors = stores[0], stores[1:]
    assert dead.leases is not None
    dead.leases.stop(release=False)
    died = time.monotonic()

    def covered() -> int:
        return len(set().union(*(held(s, streams) for s in survivors)))

    took = wait_for(lambda: covered() == 9, 2 * LONG_LEASE + SLACK)
    assert took <= 2 * LONG_LEASE + SLACK, took
    gaps, since = [], None
    while time.monotonic() - died < 4 * LONG_LEASE:
        now, whole = time.monotonic(), covered() == 9
        if not whole and since is None:
            since = now
        if whole and since is not None:
            gaps.append(now - since)
            since = None
        time.sleep(0.05)
    assert since is None and max(gaps, default=0) < LONG_LEASE, (
        "a stream handed back to even out the spread is taken at once, not left a lease period"
    )
    wait_for(lambda: sorted(len(held(s, streams)) for s in survivors) == [4, 5])


def test_renewals_keep_running_while_the_spread_round_is_stuck(
    replicas: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Renewal has its own thread and client: a lease list read that hangs for one and a half
    lease periods (a slow query, a slow take) does not let a single lease expire. The lease
    is `LONG_LEASE`, so a renewal thread the machine's load delays by a second or two
    still renews in time; a renewal stuck behind the query would not."""
    store = replicas(STREAMS[:6], replica_id="a", lease_seconds=LONG_LEASE)
    assert store.leases is not None
    control = store.leases.control
    real = control.query

    unstuck = threading.Event()

    def stuck(*args: Any, **kw: Any) -> Any:
        unstuck.wait(60)
        return real(*args, **kw)

    control.query = stuck  # type: ignore[method-assign]
    try:
        time.sleep(1.5 * LONG_LEASE)
        assert held(store, STREAMS[:6]) == set(STREAMS[:6])
        assert "lease expired before renewal" not in caplog.text
    finally:
        unstuck.set()


def test_a_round_renews_every_held_lease_and_beats_once(replicas: Any) -> None:
    store = replicas(replica_id="a")
    assert store.leases is not None and len(held(store)) == 30
    store.leases.stop(release=False)
    store.leases._now = time.monotonic
    before = {s: h.counter for s, h in store.leases.held().items()}
    beat = store.table.get("R", "a")
    assert beat is not None
    store.leases.renew()
    after = store.leases.held()
    assert {s: after[s].counter for s in before} == {s: c + 1 for s, c in before.items()}
    again = store.table.get("R", "a")
    assert again is not None and int(again["beat"]["N"]) == int(beat["beat"]["N"]) + 1


def test_a_late_round_is_reported_and_logged(
    replicas: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """A renewal round that finishes more than `renew_seconds` after it was due is
    measured (`on_round`, the lease round metric) and logged."""
    store = replicas(STREAMS[:3], replica_id="a")
    assert store.leases is not None
    rounds: list[float] = []
    store.leases.on_round = rounds.append
    writer = store.leases._writer
    real = writer.renew
    slow = [True]

    def once_slow(*args: Any, **kw: Any) -> Any:
        if slow:
            slow.clear()
            time.sleep(0.6)
        return real(*args, **kw)

    writer.renew = once_slow  # type: ignore[method-assign]
    wait_for(lambda: len(rounds) >= 3)
    assert max(rounds) >= 0.6 - 0.25
    assert "lease round overran" in caplog.text
    assert held(store, STREAMS[:3]) == set(STREAMS[:3])


def test_a_renewal_that_landed_after_its_call_timed_out_is_caught_up_not_lost(
    replicas: Any,
) -> None:
    """The lease client gives up on a call after half a lease; the write may still land.
    The next renewal's condition then fails on our own counter: that is not another
    replica's take, and neither renewal nor release loses the lease over it."""
    streams = STREAMS[:2]
    store = replicas(streams, replica_id="a")
    assert store.leases is not None
    store.leases.stop(release=False)
    store.leases._now = time.monotonic
    for held_ in store.leases.held().values():
        held_.counter -= 1  # as if the last renewal's answer never arrived
    store.leases.renew()
    assert held(store, streams) == set(streams)
    first = store.leases.held()[streams[0]]
    first.counter -= 1
    store.leases._release(streams[0])
    store.leases._flush_releases()
    item = store.table.get("L", f"{streams[0][0]}#{streams[0][1]}")
    assert item is not None and item["owner"]["S"] == ""


def test_a_lease_that_lapsed_here_but_was_not_taken_is_renewed_back_and_never_left_owned(
    replicas: Any,
) -> None:
    """A round that ran past the lease: the replica stops trusting it (no poll, no
    commit), but its next renewal, conditioned on the counter, wins it back under the
    same epoch if nobody took it; on stop it is handed back, not left to run out."""
    stream = ("acme", "audit")
    store = replicas([stream], replica_id="a")
    assert store.leases is not None
    store.leases.stop(release=False)
    store.leases._held[stream].valid_until = 0.0
    assert not store.owns(*stream)
    with pytest.raises(LeaseLost):
        store.commit(*stream, checkpoint={"at": 1})
    store.leases.renew()
    assert store.leases.epoch(stream) == 1
    store.leases._held[stream].valid_until = 0.0
    assert not store.owns(*stream)
    store.leases.stop()
    item = store.table.get("L", "acme#audit")
    assert item is not None and item["owner"]["S"] == ""


def released_to_a_taker(replicas: Any, stream: tuple[str, str]) -> tuple[Taker, Any]:
    """A lease held once and handed back, and a replica's taker (its rounds stopped, so
    only the test takes) with the lease item as it read it."""
    first = replicas([stream], replica_id="first")
    assert first.leases is not None
    first.leases.stop()
    store = replicas([], replica_id="taker")
    assert store.leases is not None
    store.leases.stop(release=False)
    taker = store.leases._taker
    item = taker.table.get("L", lease_sk(stream))
    assert item is not None and item["owner"]["S"] == ""
    return taker, item


@pytest.mark.parametrize("answer", ["raised", "refused"])
def test_a_take_that_applied_but_whose_answer_was_lost_is_held_not_left_orphaned(
    replicas: Any, monkeypatch: pytest.MonkeyPatch, answer: str
) -> None:
    """The put that takes a lease lands, but its answer is lost: the call fails
    (`raised`), or its retry meets the put's own write and fails the condition
    (`refused`). The table then names this replica as the holder; the taker must see
    that and hold the lease, or the stream sits uncovered until the lease runs out."""
    stream = ("acme", "audit")
    taker, item = released_to_a_taker(replicas, stream)
    real = taker.table.conditional
    lost: list[str] = []

    def answer_lost(method: str, **kw: Any) -> bool:
        if lost:
            return real(method, **kw)
        lost.append(method)
        assert real(method, **kw)
        if answer == "raised":
            raise StateError("state table t: ConnectionClosedError")
        return False

    monkeypatch.setattr(taker.table, "conditional", answer_lost)
    taken: list[Taken] = []
    assert taker.take([(stream, item)], taken.append) == []
    assert [(t.stream, t.epoch) for t in taken] == [(stream, int(item["epoch"]["N"]) + 1)]
    fence = taker.table.get("F", "acme#audit")
    assert fence is not None and fence["owner"]["S"] == "taker"


def held_then_stopped(replicas: Any, stream: tuple[str, str]) -> tuple[DynamoStore, Writer]:
    """A replica holding `stream` with its rounds stopped (only the test renews or
    releases), and its lease writer."""
    store = replicas([stream], replica_id="a")
    assert store.leases is not None
    store.leases.stop(release=False)
    return store, store.leases._writer


def test_a_renewal_held_unanswered_is_sent_again_beside_it_and_the_round_goes_on(
    replicas: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A renewal put that gets no answer (a loaded server, a lost packet) would hold the
    round for its whole timeout, and the rounds after it past the lease's trust. A
    second put with the same condition goes out beside it: the round ends on the first
    answer, and the held one, when it lands, fails its condition and changes nothing."""
    stream = ("acme", "audit")
    store, writer = held_then_stopped(replicas, stream)
    real = writer.table.conditional
    release = threading.Event()
    calls: list[str] = []
    held_answer: list[bool] = []

    def first_held(method: str, **kw: Any) -> bool:
        calls.append(method)
        if len(calls) == 1:
            release.wait(60)
            held_answer.append(real(method, **kw))
            return held_answer[0]
        return real(method, **kw)

    monkeypatch.setattr(writer.table, "conditional", first_held)
    counter = store.leases.held()[stream].counter
    started = time.monotonic()
    store.leases.renew()
    assert time.monotonic() - started < 60 - SLACK, "the round waited for the held put"
    assert store.owns(*stream)
    assert store.leases.held()[stream].counter == counter + 1
    release.set()
    wait_for(lambda: bool(held_answer))
    assert held_answer == [False]
    item = store.table.get("L", "acme#audit")
    assert item is not None and int(item["counter"]["N"]) == counter + 1


@pytest.mark.parametrize("fence_failures", [2, 3])
def test_a_take_whose_fence_is_not_raised_is_tried_again_or_handed_back(
    replicas: Any, monkeypatch: pytest.MonkeyPatch, fence_failures: int
) -> None:
    """The take's put applied but raising the fence failed: the raise is tried again at
    once (it is idempotent); if it keeps failing, the lease is not trusted and is handed
    back for the next take, not left owned by a replica that does not poll it."""
    stream = ("acme", "audit")
    taker, item = released_to_a_taker(replicas, stream)
    real = taker.table.conditional
    failed: list[int] = []

    def fence_fails(method: str, **kw: Any) -> bool:
        if kw["Item"]["pk"]["S"] == "F" and len(failed) < fence_failures:
            failed.append(1)
            raise StateError("state table t: InternalServerError")
        return real(method, **kw)

    monkeypatch.setattr(taker.table, "conditional", fence_fails)
    taken: list[Taken] = []
    not_taken = taker.take([(stream, item)], taken.append)
    after = taker.table.get("L", "acme#audit")
    assert after is not None
    if fence_failures < 3:
        assert not_taken == [] and [t.stream for t in taken] == [stream]
        assert after["owner"]["S"] == "taker"
    else:
        assert not_taken == [stream] and taken == []
        assert after["owner"]["S"] == "", "handed back for the next take"


def test_a_release_that_fails_is_tried_again_not_left_to_run_out(
    replicas: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hand-back met a throttle: it is tried again at once, so the lease is free for
    the next take now rather than owned by nobody polling it for a lease period."""
    stream = ("acme", "audit")
    store, writer = held_then_stopped(replicas, stream)
    real = writer.table.conditional
    failed: list[int] = []

    def throttled_twice(method: str, **kw: Any) -> bool:
        if len(failed) < 2:
            failed.append(1)
            raise StateError("state table t: ThrottlingException")
        return real(method, **kw)

    monkeypatch.setattr(writer.table, "conditional", throttled_twice)
    store.leases._release(stream)
    store.leases._flush_releases()
    item = store.table.get("L", "acme#audit")
    assert failed == [1, 1]
    assert item is not None and item["owner"]["S"] == ""


def test_a_first_round_that_fails_does_not_stop_the_replica_and_the_next_takes_its_share(
    options: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One 500 from the table while a replica starts (its first lease round) ended the
    daemon with exit code 1. It now starts all the same and takes its share on schedule."""
    stream = ("acme", "audit")
    store = options.model_copy(update={"replica_id": "a"}).open()
    assert isinstance(store, DynamoStore) and store.leases is not None
    real = store.leases.control.query
    failed: list[int] = []

    def first_fails(*args: Any, **kw: Any) -> Any:
        if not failed:
            failed.append(1)
            raise StateError("state table t: InternalServerError")
        return real(*args, **kw)

    monkeypatch.setattr(store.leases.control, "query", first_fails)
    try:
        store.claim([stream])
        assert failed == [1]
        wait_for(lambda: store.owns(*stream), timeout=SLACK + 10 * LEASE)
    finally:
        store.close()
