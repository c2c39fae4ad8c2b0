"""The spread's decisions from what it read (`connector.state.spread.Watch`), on a fake
monotonic clock: who counts as live, what is taken, what is handed back."""

from __future__ import annotations

from typing import Any

from connector.state.spread import Watch

LEASE = 6.0
STREAMS = [(f"s{i}", "audit") for i in range(9)]


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def lease(stream: tuple[str, str], owner: str, counter: int, epoch: int = 1) -> dict[str, Any]:
    return {
        "sk": {"S": f"{stream[0]}#{stream[1]}"},
        "owner": {"S": owner},
        "epoch": {"N": str(epoch)},
        "counter": {"N": str(counter)},
    }


def beat(replica: str, n: int) -> dict[str, Any]:
    return {"sk": {"S": replica}, "beat": {"N": str(n)}, "seen_at": {"N": "0"}}


def layout(owners: dict[str, list[int]], counters: dict[str, int]) -> dict[str, Any]:
    return {
        f"s{i}#audit": lease(STREAMS[i], owner, counters[owner])
        for owner, idx in owners.items()
        for i in idx
    }


def test_a_dead_replica_stops_counting_when_its_leases_expire_and_all_its_streams_are_taken() -> (
    None
):
    clock = Clock()
    watch = Watch("b", LEASE, free_after=LEASE, monotonic=clock)
    owners = {"a": [0, 1, 2], "b": [3, 4, 5], "c": [6, 7, 8]}
    mine = {STREAMS[i] for i in owners["b"]}
    n = 0
    plan = None
    while clock.t < 100 + LEASE + 2:
        n += 1
        counters = {"a": 1, "b": n, "c": n}  # a stopped renewing and beating at once
        beats = [beat("a", 1), beat("b", n), beat("c", n)]
        plan = watch.plan(STREAMS, layout(owners, counters), beats, mine, mine)
        if clock.t < 100 + LEASE:
            assert plan.take == [] and plan.live == {"a", "b", "c"}, clock.t
            assert plan.release == []
        clock.t += 1.0
    assert plan is not None
    assert plan.live == {"b", "c"}
    assert plan.take == [STREAMS[i] for i in owners["a"]], "every orphan, above the share"
    assert plan.release == [] and not plan.covered


def test_a_surplus_is_handed_back_only_while_every_stream_is_held_by_a_live_replica() -> None:
    clock = Clock()
    watch = Watch("b", LEASE, free_after=LEASE, monotonic=clock)
    mine = {STREAMS[i] for i in range(6)}
    owners = {"b": list(range(6)), "c": [6, 7, 8]}
    plan = watch.plan(
        STREAMS, layout(owners, {"b": 1, "c": 1}), [beat("b", 1), beat("c", 1)], mine, mine
    )
    assert plan.covered and plan.release == [STREAMS[0]], "6 held, share ceil(9/2) = 5"
    items = layout(owners, {"b": 1, "c": 1})
    del items["s8#audit"]  # a stream nobody holds yet
    plan = watch.plan(STREAMS, items, [beat("b", 2), beat("c", 2)], mine, mine)
    assert not plan.covered and plan.release == []


def test_a_released_lease_left_untaken_is_taken_by_anyone_after_a_lease_period() -> None:
    """Replicas at their share leave a released lease to one under it; if none takes
    it within `free_after`, anyone does: it must not stay uncovered."""
    clock = Clock()
    watch = Watch("d", LEASE, free_after=LEASE, monotonic=clock)
    mine = {STREAMS[i] for i in (6, 7, 8)}

    def items(n: int) -> dict[str, Any]:
        out = layout({"b": [0, 1, 2], "c": [3, 4], "d": [6, 7, 8]}, {"b": n, "c": n, "d": n})
        out["s5#audit"] = lease(STREAMS[5], "", 2)
        return out

    beats = [beat("b", 1), beat("c", 1), beat("d", 1)]
    assert watch.plan(STREAMS, items(1), beats, mine, mine).take == [], "at its share of 3"
    clock.t += LEASE
    beats = [beat("b", 2), beat("c", 2), beat("d", 2)]
    assert watch.plan(STREAMS, items(2), beats, mine, mine).take == [STREAMS[5]]


def test_greedy_takes_every_free_lease_and_never_releases() -> None:
    clock = Clock()
    watch = Watch("once", LEASE, free_after=LEASE, monotonic=clock)
    plan = watch.plan(STREAMS, {}, [beat("a", 1)], set(), set(), greedy=True)
    assert plan.take == STREAMS and plan.release == []


def test_a_lease_is_due_the_moment_its_value_has_stood_still_for_a_lease_period() -> None:
    """Between reads: due exactly `lease_seconds` after its last value was first read,
    not at the next read; a value that moved starts over; a lease held here never is."""
    clock = Clock()
    watch = Watch("b", LEASE, free_after=LEASE / 2, monotonic=clock)
    owners = {"a": [0, 1, 2], "b": [3, 4, 5], "c": [6, 7, 8]}
    mine = {STREAMS[i] for i in owners["b"]}
    watch.plan(STREAMS, layout(owners, {"a": 1, "b": 1, "c": 1}), [], mine, mine)
    clock.t += 2.0
    watch.plan(STREAMS, layout(owners, {"a": 1, "b": 2, "c": 2}), [], mine, mine)
    assert watch.next_due(mine) == 100 + LEASE, "a's value first read at 100"
    clock.t = 100 + LEASE - 0.01
    assert watch.due(mine, clock.t) == []
    clock.t = 100 + LEASE
    assert watch.due(mine, clock.t) == [STREAMS[i] for i in owners["a"]]
    watch.forget(STREAMS[0])
    assert watch.due(mine, clock.t) == [STREAMS[1], STREAMS[2]], "forgotten until read again"
    assert watch.next_due(mine | {STREAMS[1], STREAMS[2]}) == 102 + LEASE, "c, read at 102"


def test_a_released_lease_is_due_after_free_after() -> None:
    clock = Clock()
    watch = Watch("b", LEASE, free_after=LEASE / 2, monotonic=clock)
    items = {"s0#audit": lease(STREAMS[0], "", 5)}
    watch.plan(STREAMS[:1], items, [beat("a", 1), beat("b", 1)], {STREAMS[1]}, {STREAMS[1]})
    assert watch.next_due(set()) == 100 + LEASE / 2


def test_a_replica_under_its_share_waits_for_a_handover_only_while_the_spread_is_unsettled() -> (
    None
):
    clock = Clock()
    watch = Watch("d", LEASE, free_after=LEASE, monotonic=clock)
    beats = [beat("b", 1), beat("c", 1), beat("d", 1)]
    over = layout({"b": [0, 1, 2, 3, 4], "c": [5, 6, 7, 8]}, {"b": 1, "c": 1})
    assert watch.plan(STREAMS, over, beats, set(), set()).waiting, "b holds 5, share 3"
    even = layout({"b": [0, 1, 2], "c": [3, 4, 5], "d": [6, 7, 8]}, {"b": 1, "c": 1, "d": 1})
    mine = {STREAMS[i] for i in (6, 7, 8)}
    assert not watch.plan(STREAMS, even, beats, mine, mine).waiting, "at its share"
    fourth = Watch("e", LEASE, free_after=LEASE, monotonic=clock)
    beats4 = [*beats, beat("e", 1)]
    assert not fourth.plan(STREAMS, even, beats4, set(), set()).waiting, (
        "under its share (3 of 9 over 4), but nobody holds more: nothing will come"
    )
