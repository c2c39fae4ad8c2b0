"""Which leases a replica takes or hands back: coverage first, balance second.

Pure bookkeeping over what the spread thread read (`Leases.spread`); it writes nothing.
Everything is judged by watching values stand still on this replica's monotonic clock,
never by comparing another host's wall clock: a lease whose (owner, epoch, counter)
has not moved for `lease_seconds` has expired, and a replica whose heartbeat counter
has not moved for `lease_seconds` is not live. Both stop moving together, since the
heartbeat is sent in every renewal round, so a dead replica leaves the share count
at the moment its leases become takeable rather than two lease periods later.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from connector.state.renewal import Stream, lease_sk
from connector.state.table import Item

K = TypeVar("K")
V = TypeVar("V")


@dataclass
class Plan:
    take: list[Stream] = field(default_factory=list)
    release: list[Stream] = field(default_factory=list)
    live: set[str] = field(default_factory=set)
    covered: bool = True
    waiting: bool = False
    """Under its share while the spread is unsettled (a stream not held by a live
    replica, or a live replica over its share): a lease is about to be taken or handed
    back for this replica to take, so it should read again soon."""


class Watch:
    """Lease items and heartbeats as last seen, and since when (monotonic)."""

    def __init__(
        self,
        replica_id: str,
        lease_seconds: float,
        *,
        free_after: float,
        monotonic: Callable[[], float],
    ) -> None:
        """`free_after`: how long a released lease may stay untaken by a replica under
        its share before any replica takes it."""
        self.replica_id = replica_id
        self.lease_seconds = lease_seconds
        self.free_after = free_after
        self._now = monotonic
        self._leases: dict[Stream, tuple[tuple[str, str, str], float]] = {}
        self._beats: dict[str, tuple[tuple[str, str], float]] = {}

    def live(self, beats: list[Item], now: float) -> set[str]:
        """Replicas whose heartbeat moved within `lease_seconds`, and this one."""
        out = {self.replica_id}
        present = set()
        for item in beats:
            replica = item["sk"]["S"]
            present.add(replica)
            value = (item.get("beat", {}).get("N", ""), item.get("seen_at", {}).get("N", ""))
            if _still(self._beats, replica, value, now) < self.lease_seconds:
                out.add(replica)
        self._beats = {r: v for r, v in self._beats.items() if r in present}
        return out

    def since(self, stream: Stream) -> float | None:
        """When this replica first read the lease's current value (monotonic)."""
        seen = self._leases.get(stream)
        return None if seen is None else seen[1]

    def forget(self, stream: Stream) -> None:
        """A take failed (the lease moved, or the write did not go through): watch the
        lease afresh from the next read rather than try the same value again."""
        self._leases.pop(stream, None)

    def due(self, held: set[Stream], now: float) -> list[Stream]:
        """Leases not held here whose last value read has stood still long enough to be
        taken now, judged between reads: a lease is taken the moment it expires, not at
        the first read after that (up to a round later)."""
        return sorted(
            s for s, (v, t) in self._leases.items() if s not in held and now >= t + self._wait(v)
        )

    def next_due(self, held: set[Stream]) -> float | None:
        """When the next watched lease becomes takeable, if it does not move first."""
        times = [t + self._wait(v) for s, (v, t) in self._leases.items() if s not in held]
        return min(times, default=None)

    def _wait(self, value: tuple[str, str, str]) -> float:
        """How long a value must stand still: a lease period, or `free_after` if the
        lease was handed back (no owner)."""
        return self.lease_seconds if value[0] else min(self.lease_seconds, self.free_after)

    def plan(
        self,
        streams: list[Stream],
        items: dict[str, Item],
        beats: list[Item],
        held: set[Stream],
        keep: set[Stream],
        *,
        busy: frozenset[Stream] | set[Stream] = frozenset(),
        greedy: bool = False,
    ) -> Plan:
        """`held`: every lease this replica holds; `keep`: those not being handed back.
        Takes every orphan (expired, or free and left untaken for `free_after`) and
        free ones up to the share; releases a surplus only while every stream is held
        by a live replica, so a rebalance never uncovers what a dead replica left."""
        now = self._now()
        plan = Plan(live=self.live(beats, now))
        free: list[Stream] = []
        owners: Counter[str] = Counter()
        for stream in streams:
            item = items.get(lease_sk(stream))
            if item is not None and item["owner"]["S"] in plan.live:
                owners[item["owner"]["S"]] += 1
            if stream in held:
                self._leases.pop(stream, None)
                continue
            if item is None:
                plan.covered = False
                free.append(stream)
                continue
            owner = item["owner"]["S"]
            value = (owner, item["epoch"]["N"], item["counter"]["N"])
            still = _still(self._leases, stream, value, now)
            if still >= self._wait(value):
                plan.covered = False
                plan.take.append(stream)
            elif not owner:
                plan.covered = False
                free.append(stream)
            elif owner not in plan.live:
                plan.covered = False
        target = len(streams) if greedy else math.ceil(len(streams) / len(plan.live))
        shortfall = target - len(keep) - len(plan.take)
        plan.take += free[: max(0, shortfall)]
        unsettled = not plan.covered or any(
            n > target for o, n in owners.items() if o != self.replica_id
        )
        plan.waiting = not greedy and shortfall > len(free) and unsettled
        if plan.covered and not greedy:
            idle_first = sorted(keep, key=lambda s: (s in busy, s))
            plan.release = idle_first[: max(0, len(keep) - target)]
        return plan


def _still(seen: dict[K, tuple[V, float]], key: K, value: V, now: float) -> float:
    """How long `value` has stood still under `key`, recording it when it moved."""
    last = seen.get(key)
    if last is None or last[0] != value:
        seen[key] = (value, now)
        return 0.0
    return now - last[1]
