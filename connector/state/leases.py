"""Leases per (source, log type): which replica polls what, and the epoch that fences it.

A lease item holds `owner`, `epoch` (bumped whenever the owner changes) and `counter`
(bumped on every renewal). As in the Kinesis Client Library, nobody compares wall
clocks: a replica calls a lease expired when it has watched its counter stand still for
`lease_seconds` on its own monotonic clock, and takes it with a write conditioned on that
counter. The holder trusts its lease only until `lease_seconds` after it *started* its
last successful renewal, which is before any taker could have started watching, so a
paused holder stops trusting its lease before anyone may take it.

Two threads, each with its own client (`Table.for_leases`): renewal (`renewal.Writer`:
renewals and the heartbeat sent together each round, releases) on a fixed schedule,
and the spread (`spread.Watch`: read the lease and replica lists, take, mark a surplus).
A renewal therefore never waits behind a query, a take, or a commit.

Failover is timed by design: the spread reads on a fixed schedule, and between reads
wakes at the moment a watched lease has stood still for `lease_seconds` to take it then
(`takes.Taker`, all due at once), not at the next read. A dead holder's lease is thus
taken at most `lease_seconds` + one read interval (`renew_every`) + one take after its
last renewal; the lease count in `/metrics` moves when the take's write returns.

Coverage first, balance second: a replica takes every orphaned stream (expired, or
released and left untaken), even above its share, and hands back a surplus only while
every stream is held by a live replica. A dead replica stops counting as live when its
heartbeat has stood still for `lease_seconds`, the moment its leases expire too.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from connector.state.fences import check
from connector.state.renewal import LEASES, REPLICAS, Held, Stream, Writer, fields, lease_sk
from connector.state.spread import Plan, Watch
from connector.state.table import Item, Table, key
from connector.state.takes import Taken, Taker

__all__ = ["LEASES", "REPLICAS", "Held", "Leases", "Stream", "lease_sk"]
log = logging.getLogger(__name__)


class Leases:
    def __init__(
        self,
        table: Table,
        replica_id: str,
        *,
        lease_seconds: float,
        renew_every: float,
        monotonic: Callable[[], float] = time.monotonic,
        control: Table | None = None,
    ) -> None:
        """`table` is the renewal client, `control` the spread's (reads and takes)."""
        self.table = table
        self.control = control or table
        self.replica_id = replica_id
        self.lease_seconds = lease_seconds
        self.renew_every = renew_every
        self._now = monotonic
        self._margin = min(1.0, lease_seconds / 10)
        self._lock = threading.Lock()
        self._held: dict[Stream, Held] = {}
        self._lapsed: dict[Stream, Held] = {}
        self._streams: list[Stream] = []
        self._busy: set[Stream] = set()
        self._draining: set[Stream] = set()
        self._releasing: list[tuple[Stream, Held]] = []
        self._greedy = False
        self._on_taken: Callable[[Stream], None] | None = None
        self.on_round: Callable[[float], None] | None = None
        self._writer = Writer(table, replica_id, lease_seconds)
        self._taker = Taker(self.control, self._writer, lambda: self._now())
        self._items: dict[str, Item] = {}
        self._waiting = False
        self._settled_at = 0.0
        self._decided: dict[Stream, tuple[float, float | None]] = {}
        self._watch = Watch(
            replica_id, lease_seconds, free_after=lease_seconds, monotonic=lambda: self._now()
        )
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []

    # -- who holds what

    def epoch(self, stream: Stream) -> int | None:
        """The epoch of a lease this replica holds and may still trust, else None."""
        with self._lock:
            held = self._held.get(stream)
            if held is None:
                return None
            if held.valid_until <= self._now():
                self._lapsed[stream] = self._held.pop(stream)
                log.warning("lease expired before renewal", extra=fields(stream))
                return None
            return held.epoch

    @contextmanager
    def polling(self, stream: Stream) -> Iterator[bool]:
        """Whether this replica may poll the stream now; while it does, the lease is not
        released to rebalance, so no stream is polled by two replicas at once."""
        with self._lock:
            held = self._held.get(stream)
            ok = held is not None and held.valid_until > self._now()
            ok = ok and stream not in self._draining
            if ok:
                self._busy.add(stream)
        try:
            yield ok
        finally:
            with self._lock:
                self._busy.discard(stream)
                drained = ok and stream in self._draining
            if drained:
                self._release(stream)

    def count(self) -> int:
        with self._lock:
            now = self._now()
            return sum(1 for h in self._held.values() if h.valid_until > now)

    def held(self) -> dict[Stream, Held]:
        with self._lock:
            return dict(self._held)

    # -- the loops

    def start(
        self,
        streams: list[Stream],
        *,
        everything: bool = False,
        on_taken: Callable[[Stream], None] | None = None,
    ) -> None:
        """Take a first share now (so the first polls have work), then keep it in two
        threads. `everything`: take every free lease, not a share (`once` beside
        running replicas). A daemon whose first round fails (one 500 from the table)
        starts all the same and takes its share a round later, instead of exiting."""
        self._streams = sorted(set(streams))
        self._stop.clear()
        self._greedy = everything
        self._on_taken = on_taken
        try:
            self.round()
        except Exception as exc:  # the threads' rounds try again on schedule
            if everything:
                raise  # `once` polls only what this round takes: it reports the error
            log.error("first lease round failed; the next tries again", extra={"error": str(exc)})
        self._threads = [
            threading.Thread(target=self._renewing, name="lease-renewal", daemon=True),
            threading.Thread(target=self._spreading, name="lease-spread", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def add(self, streams: list[Stream]) -> None:
        """Share these too from the next round on (which starts now)."""
        with self._lock:
            self._streams = sorted(set(self._streams) | set(streams))
        self._wake.set()

    def stop(self, *, release: bool = True) -> None:
        """Stop renewing; hand the leases back so the others take over at once."""
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout=self.renew_every + 10)
        self._threads = []
        if release:
            with self._lock:
                self._held.update(self._lapsed)
                self._lapsed.clear()
                streams = list(self._held)
            for stream in streams:
                self._release(stream)
            self._flush_releases()
            try:
                self.table.call("delete_item", Key=key(REPLICAS, self.replica_id))
            except Exception as exc:  # noqa: BLE001 - its heartbeat goes stale on its own
                log.warning("replica heartbeat not removed", extra={"error": str(exc)})

    def round(self) -> None:
        """One renewal round, then one spread round (the threads run them apart)."""
        self.renew()
        self.spread()

    def _renewing(self) -> None:
        """Rounds are due every `renew_every` from the first, whatever the last took; a
        round that finishes more than `renew_every` after it was due is logged."""
        due = self._now() + self.renew_every
        while not self._stop.is_set():
            self._wake.wait(max(0.0, due - self._now()))
            self._wake.clear()
            self._flush_releases()
            if self._stop.is_set() or self._now() < due:
                continue
            try:
                self.renew()
            except Exception as exc:  # noqa: BLE001 - the next round tries again
                log.error("lease renewal round failed", extra={"error": str(exc)})
            finished = self._now()
            late = finished - due
            if self.on_round is not None:
                self.on_round(max(0.0, late))
            if late > self.renew_every:
                log.warning(
                    "lease round overran",
                    extra={"late_seconds": round(late, 3), "renew_seconds": self.renew_every},
                )
            due = max(due + self.renew_every, finished)

    def _spreading(self) -> None:
        """Reads once per renewal interval, on a fixed schedule whatever a round took;
        between reads, wakes when a watched lease becomes takeable and takes it then.
        A replica waiting for a surplus to be handed back (`Plan.waiting`) reads four
        times as often, so a released lease stays untaken for a quarter round, not one.
        (Reading twice per interval was measured slower under load: twice the reads on
        the table's server, no faster takes.)"""
        due = self._now() + self.renew_every
        while not self._stop.is_set():
            wake = self._watch.next_due(self._holding())
            wake = due if wake is None else min(wake, due)
            if self._stop.wait(max(0.0, wake - self._now())):
                return
            reading = self._now() >= due
            try:
                if reading:
                    self.spread()
                else:
                    self._take_due()
            except Exception as exc:  # noqa: BLE001 - the next round tries again
                log.error("lease round failed", extra={"error": str(exc)})
            if reading:
                step = self.renew_every / 4 if self._waiting else self.renew_every
                due = max(due + step, self._now())

    # -- renewal thread

    def renew(self) -> None:
        """Renew what is held, and what lapsed here (its renewal ran too late for this
        replica to keep trusting it): the write is conditioned on the counter, so it
        only succeeds if nobody took the lease meanwhile, and then trust starts afresh.
        A lapsed lease is thus kept, or found lost, within a round, never left owned
        in the table by a replica that no longer polls it."""
        with self._lock:
            held = sorted({**self._held, **self._lapsed}.items())
        renewed, lost = self._writer.renew(held, self._now, budget=self.renew_every / 2)
        with self._lock:
            for stream, h, started in renewed:
                h.counter += 1
                h.valid_until = started + self.lease_seconds - self._margin
                if self._lapsed.pop(stream, None) is not None:
                    self._held[stream] = h
                    log.info("lapsed lease renewed before anyone took it", extra=fields(stream))
            for stream in lost:
                if (self._held.pop(stream, None) or self._lapsed.pop(stream, None)) is not None:
                    log.warning("lease lost to another replica", extra=fields(stream))

    def _release(self, stream: Stream) -> None:
        """Stop trusting a lease and queue it to be handed back on the renewal thread
        (which alone writes held leases, so a release never races a renewal). One being
        polled is drained instead: no new poll starts on it, and it is released when the
        running poll ends (`polling`)."""
        with self._lock:
            self._draining.discard(stream)
            held = self._held.pop(stream, None)
            if held is not None:
                self._releasing.append((stream, held))
        self._wake.set()

    def _flush_releases(self) -> None:
        with self._lock:
            queued, self._releasing = self._releasing, []
        for stream, held in queued:
            self._writer.release(stream, held)

    # -- spread thread

    def spread(self) -> None:
        """Read the replica and lease lists (eventually consistent: a stale counter or
        owner only makes a take's conditional write fail), take orphans and a shortfall,
        mark a surplus for release. The leases are read last: a value counts as seen
        when the read returned, so the sooner the plan follows, the sooner a take."""
        beats = list(self.control.query(REPLICAS, consistent=False))
        items = {i["sk"]["S"]: i for i in self.control.query(LEASES, consistent=False)}
        self._items = items
        with self._lock:
            held = set(self._held) | set(self._lapsed)
            busy = set(self._busy)
            draining = set(self._draining)
        plan = self._watch.plan(
            self._streams, items, beats, held, held - draining, busy=busy, greedy=self._greedy
        )
        self._waiting = plan.waiting
        self._apply(plan, busy)

    def _take_due(self) -> None:
        """Between reads: take the leases that became takeable since the last one, as
        that read saw them (the take is conditioned on that value, so one renewed
        meanwhile stays with its holder)."""
        self._apply(Plan(take=self._watch.due(self._holding(), self._now())), set())

    def _holding(self) -> set[Stream]:
        with self._lock:
            return set(self._held) | set(self._lapsed)

    def _apply(self, plan: Plan, busy: set[Stream]) -> None:
        """Takes at once; hands a surplus back only once this replica has taken no lease
        from another owner for a lease period (`_settled_at`): after a failover, the
        streams stay with their new holders until the fleet has settled (a replica just
        restarted, another dying meanwhile), not handed on again while it settles."""
        settling = self._now() < self._settled_at
        for stream in [] if settling else plan.release:
            if stream in busy:
                with self._lock:
                    self._draining.add(stream)
            else:
                self._release(stream)
        if not plan.take:
            return
        decided = self._now()
        self._decided = {s: (decided, self._watch.since(s)) for s in plan.take}
        wanted = [(s, self._items.get(lease_sk(s))) for s in plan.take]
        for stream in self._taker.take(wanted, self._taken):
            self._watch.forget(stream)

    def _taken(self, took: Taken) -> None:
        """Runs on a take's pool thread the moment its write returned."""
        stream = took.stream
        if took.previous:
            self._settled_at = self._now() + self.lease_seconds
        with self._lock:
            valid_until = took.started + self.lease_seconds - self._margin
            self._held[stream] = Held(took.epoch, took.counter, valid_until)
        decided, since = self._decided.get(stream, (took.started, None))
        log.info(
            "lease taken",
            extra={
                **fields(stream),
                "epoch": took.epoch,
                "from": took.previous,
                "watched_seconds": None if since is None else round(decided - since, 3),
                "take_seconds": round(self._now() - decided, 3),
            },
        )
        if self._on_taken is not None:
            self._on_taken(stream)

    def fence(self, stream: Stream, epoch: int) -> Item:
        """The transaction step that makes a commit fail unless this lease still stands
        (on the fence item, `connector.state.fences`, which renewals never write)."""
        return check(self.table.name, self.replica_id, stream, epoch)
