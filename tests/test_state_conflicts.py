"""DynamoDB under contention: conflicts are retried in a budget, a lease that lapses and
is renewed keeps what was committed meanwhile, and a lapse is told apart from a takeover.

Classification and back-off are unit tests; the rest runs against moto's server over
127.0.0.1 (with the clock of the lease driven by the test, so lapses happen on cue).
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from connector.state import LeaseLost, UnitOfWork
from connector.state.conflicts import MAX_WAIT, Backoff, is_conflict
from connector.state.dynamodb import DynamoStore
from connector.state.fences import FENCES, raise_fence
from connector.state.keys import seen_key
from connector.state.leases import LEASES
from connector.state.table import Table
from tests.conftest import dynamodb_options

LEASE = 2.0
STREAM = ("acme", "audit")


def error(code: str, *reasons: str) -> ClientError:
    response: dict[str, Any] = {"Error": {"Code": code, "Message": "x"}}
    if reasons:
        response["CancellationReasons"] = [{"Code": r} for r in reasons]
    return ClientError(response, "TransactWriteItems")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("exc", "retried"),
    [
        (error("TransactionConflictException"), True),
        (error("TransactionInProgressException"), True),
        (error("TransactionCanceledException", "None", "TransactionConflict"), True),
        (error("TransactionCanceledException", "TransactionConflict"), True),
        (
            error("TransactionCanceledException", "ConditionalCheckFailed", "TransactionConflict"),
            False,
        ),
        (error("TransactionCanceledException", "None", "ThrottlingError"), False),
        (error("TransactionCanceledException", "None", "None"), False),
        (error("TransactionCanceledException"), False),
        (error("ConditionalCheckFailedException"), False),
        (error("ThrottlingException"), False),
        (ValueError("no"), False),
    ],
)
def test_only_a_conflict_is_retried(exc: BaseException, retried: bool) -> None:
    assert is_conflict(exc) is retried


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.waits: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


def test_conflicts_are_retried_with_growing_jittered_waits_until_one_goes_through() -> None:
    t = FakeTime()
    backoff = Backoff(30.0, sleep=t.sleep, monotonic=lambda: t.now, rng=random.Random(3))
    answers: list[BaseException | None] = [error("TransactionConflictException")] * 6 + [None]

    def call() -> str:
        exc = answers.pop(0)
        if exc is not None:
            raise exc
        return "done"

    assert backoff.run(call) == "done"
    assert backoff.conflicts == 6 and backoff.gave_up == 0
    caps = [min(MAX_WAIT, 0.05 * 2**i) for i in range(6)]
    assert all(0 <= w <= cap for w, cap in zip(t.waits, caps, strict=True)), t.waits
    assert len(set(t.waits)) == 6, "jittered, not a fixed schedule"


def test_a_conflict_past_the_budget_is_the_callers_error_and_other_errors_are_not_retried() -> None:
    t = FakeTime()
    backoff = Backoff(2.0, sleep=t.sleep, monotonic=lambda: t.now, rng=random.Random(5))
    calls = 0

    def conflicted() -> None:
        nonlocal calls
        calls += 1
        raise error("TransactionCanceledException", "None", "TransactionConflict")

    with pytest.raises(ClientError):
        backoff.run(conflicted)
    assert t.now <= 2.0 and calls > 2 and backoff.gave_up == 1

    def failed() -> None:
        raise error("TransactionCanceledException", "ConditionalCheckFailed")

    before = len(t.waits)
    with pytest.raises(ClientError):
        backoff.run(failed)
    assert len(t.waits) == before


@pytest.fixture
def options(moto_endpoint: str) -> Any:
    return dynamodb_options(moto_endpoint, lease_seconds=LEASE, replica_id="solo")


@pytest.fixture
def store(options: Any) -> Iterator[tuple[DynamoStore, list[float]]]:
    """One replica holding STREAM, its lease threads stopped and its clock the test's:
    a lapse is a step of the clock, a renewal a call of `renew`."""
    opened = options.open()
    assert isinstance(opened, DynamoStore) and opened.leases is not None
    opened.claim([STREAM])
    opened.leases.stop(release=False)
    clock = [time.monotonic()]
    opened.leases._now = lambda: clock[0]
    assert opened.owns(*STREAM)
    yield opened, clock
    opened.close()


def test_a_lease_that_lapses_mid_commit_and_is_renewed_forgets_nothing_the_commit_recorded(
    store: tuple[DynamoStore, list[float]],
) -> None:
    replica, clock = store
    assert replica.leases is not None
    first, second = seen_key("a" * 32, 1), seen_key("b" * 32, 2)
    replica.commit(*STREAM, keys=[first], checkpoint={"at": 1})
    replica.begin_write(*STREAM, {"obj-2": (10, [second])})
    checked = replica._epoch

    def lapsing(stream: tuple[str, str]) -> int:
        epoch = checked(stream)
        clock[0] += 2 * LEASE  # the lease lapses here, after the commit checked it
        return epoch

    replica._epoch = lapsing  # type: ignore[method-assign]
    replica.commit(*STREAM, keys=[second], checkpoint={"at": 2}, done_intents=["obj-2"])
    replica._epoch = checked  # type: ignore[method-assign]
    assert not replica.owns(*STREAM)
    replica.leases.renew()  # nobody took it: renewed under the same epoch
    assert replica.owns(*STREAM)
    assert replica.seen(*STREAM, [first, second]) == {first, second}, "no row lands twice"
    assert replica.intents(*STREAM) == [], "the settled write is not settled again"
    assert replica.checkpoint(*STREAM) == {"at": 2}


def test_a_lapse_between_polls_drops_the_kept_copy_so_the_renewed_lease_reads_the_table(
    store: tuple[DynamoStore, list[float]], options: Any
) -> None:
    replica, clock = store
    assert replica.leases is not None
    key = seen_key("c" * 32, 3)
    assert replica.seen(*STREAM, [key]) == set()
    clock[0] += 2 * LEASE
    assert not replica.owns(*STREAM)
    # Meanwhile the table gains a key (as if written under this epoch by a call whose
    # answer came late); the renewed lease must read it, not the copy kept before.
    tool = DynamoStore(options, replica=False)
    tool.commit(*STREAM, keys=[key])
    replica.leases.renew()
    assert replica.owns(*STREAM)
    assert replica.seen(*STREAM, [key]) == {key}


def test_a_write_refused_after_a_lapse_says_lapsed_and_after_a_takeover_says_moved(
    store: tuple[DynamoStore, list[float]], options: Any
) -> None:
    replica, clock = store
    clock[0] += 2 * LEASE
    with pytest.raises(LeaseLost) as lapsed:
        replica.commit(*STREAM, keys=[seen_key("d" * 32, 4)], checkpoint={"at": 4})
    assert lapsed.value.lapsed and "lapsed" in str(lapsed.value)
    with pytest.raises(LeaseLost) as before_upload:
        UnitOfWork(replica, *STREAM).check_lease()
    assert before_upload.value.lapsed
    other = DynamoStore(options.model_copy(update={"replica_id": "other"}))
    try:
        other.claim([STREAM], everything=True)
        deadline = time.monotonic() + 3 * LEASE + 5
        while not other.owns(*STREAM) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert other.owns(*STREAM)
        with pytest.raises(LeaseLost) as moved:
            replica.begin_write(*STREAM, {"obj-5": (1, [seen_key("e" * 32, 5)])})
        assert not moved.value.lapsed
    finally:
        other.close()


def test_the_fence_only_moves_forward_and_a_repeated_raise_is_idempotent(options: Any) -> None:
    table = Table(options)
    assert raise_fence(table, "a", STREAM, 3)
    assert raise_fence(table, "a", STREAM, 3), "a retry whose first answer was lost"
    assert not raise_fence(table, "b", STREAM, 3)
    assert not raise_fence(table, "b", STREAM, 2), "a late raise cannot undo a later one"
    assert raise_fence(table, "b", STREAM, 4)
    item = table.get(FENCES, f"{STREAM[0]}#{STREAM[1]}")
    assert item is not None and (item["owner"]["S"], item["epoch"]["N"]) == ("b", "4")


def test_renewals_write_the_lease_item_and_never_the_fence_commits_check(
    store: tuple[DynamoStore, list[float]],
) -> None:
    replica, _ = store
    assert replica.leases is not None
    sk = f"{STREAM[0]}#{STREAM[1]}"
    fence = replica.table.get(FENCES, sk)
    lease = replica.table.get(LEASES, sk)
    replica.leases.renew()
    replica.leases.renew()
    assert replica.table.get(FENCES, sk) == fence
    renewed = replica.table.get(LEASES, sk)
    assert lease is not None and renewed is not None
    assert int(renewed["counter"]["N"]) == int(lease["counter"]["N"]) + 2
    [check] = replica.leases.fence(STREAM, int(lease["epoch"]["N"])).values()
    assert check["Key"]["pk"] == {"S": FENCES}
