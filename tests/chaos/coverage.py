"""Coverage chaos: is every stream held by some live replica, sampled every 0.5 s?

Three `slack-connector run` replicas share three sources (nine streams) through one
DynamoDB table, busy: a backlog of audit events per source to page through, live events,
S3 uploads. Every bound plus a few seconds, one replica is SIGKILLed (restarted 0-3 s
later under a new id) or SIGSTOPped for twice its lease and continued. Coverage is read
as an operator would, from each replica's `/metrics` (`slack_connector_leases_held`):
the sum over the replicas that are running and not stopped.

Judged afterwards: after each kill or stop, how long until coverage was all nine again
(the bound is 1.5 lease periods + one poll interval), and each failover's timeline from
the replicas' logs (`timeline`); whether any replica that was not stopped logged `lease
expired before renewal` or `state store failed`; exactly once.

    python -m tests.chaos.coverage [--kills 20] [--stops 10] [--lease 6] [--poll 2]
                                   [--burn 2] [--seed N]

`--burn N` runs N busy-loop processes (one per core) for the whole run.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import re
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.chaos import timeline
from tests.chaos.replicas import LOG_TYPES, Fleet, Incarnation, Knobs, Poll, Result, Stage
from tests.fakes.moto_server import moto_endpoint

HELD = re.compile(r'^slack_connector_leases_held\{replica="([^"]+)"\} ([0-9.e+]+)$', re.M)
LATE = re.compile(r"^slack_connector_lease_round_seconds_bucket\{le=\"([^\"]+)\"\} (\S+)$", re.M)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class MetricFleet(Fleet):
    """Replicas configured as the README says, each with its own metrics port."""

    def __init__(self, workdir: Path, config: Path, knobs: Knobs) -> None:
        super().__init__(workdir, config, knobs)
        self.ports: dict[str, int] = {}
        self.stopped: dict[str, float] = {}

    def env(self, replica_id: str) -> dict[str, str]:
        env = super().env(replica_id)
        self.ports[replica_id] = free_port()
        env["SLACK_CONNECTOR__METRICS__PORT"] = str(self.ports[replica_id])
        return env


@dataclass
class Sample:
    """Scrapes sent at `started`, all answered by `at`: a sample tells of coverage after
    an event only if it started after it."""

    started: float
    at: float
    covered: int
    unanswered: int = 0


@dataclass
class Event:
    kind: str
    replica: str
    at: float
    recovered: float | None = None
    load: float = 0.0


@dataclass
class Coverage:
    lease_seconds: float
    poll: int
    streams: int
    samples: list[Sample] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    expired: dict[str, int] = field(default_factory=dict)
    store_failed: dict[str, int] = field(default_factory=dict)
    lateness: list[float] = field(default_factory=list)
    load: str = ""
    timelines: list[timeline.Line] = field(default_factory=list)

    @property
    def bound(self) -> float:
        """1.5 lease periods + one poll interval (README, "Running several replicas")."""
        return 1.5 * self.lease_seconds + self.poll

    def frozen(self, poll: Poll) -> bool:
        """Whether the poll's replica was SIGSTOPped while it ran: such a poll spans its
        successor's (its last commit or log line waited out the stop), and the fence,
        not the lease, is what keeps it from writing after it."""
        return any(
            e.kind == "stop"
            and e.replica == poll.replica
            and poll.start < e.at + 2 * self.lease_seconds + 1
            and poll.end > e.at
            for e in self.events
        )

    def recoveries(self) -> list[float]:
        return [e.recovered for e in self.events if e.recovered is not None]

    def report(self) -> str:
        times = sorted(self.recoveries())
        lines = [f"coverage samples: {len(self.samples)}; load at the end: {self.load}"]
        for e in self.events:
            took = f"{e.recovered:.1f}s" if e.recovered is not None else "never"
            lines.append(
                f"  {e.kind:<8}{e.replica:<14} all {self.streams} streams back in {took} "
                f"(load {e.load:.2f})"
            )
        if times:
            lines.append(
                f"failover (event -> all streams covered), {len(times)} events: min "
                f"{times[0]:.1f}s median {times[len(times) // 2]:.1f}s max {times[-1]:.1f}s; "
                f"bound 1.5 x lease + poll = {self.bound:.1f}s"
            )
        if self.lateness:
            late = sorted(self.lateness)
            lines.append(
                f"renewal rounds late (s), {len(late)} rounds: p50 {late[len(late) // 2]:.3f} "
                f"p99 {late[min(len(late) - 1, int(len(late) * 0.99))]:.3f} max {late[-1]:.3f}"
            )
        unanswered = sum(1 for s in self.samples if s.unanswered)
        lines.append(f"samples with a /metrics scrape unanswered within 1 s: {unanswered}")
        if self.timelines:
            lines.append(timeline.report(self.timelines))
        lines.append(f"'lease expired before renewal' on replicas never stopped: {self.expired}")
        lines.append(f"'state store failed' lines: {self.store_failed}")
        return "\n".join(lines)


class Sampler:
    """Reads every running, unstopped replica's lease count every 0.5 s, all at once. A
    probe has a second to answer (the daemon's standard); a sample with a scrape left
    unanswered says nothing either way, rather than count that replica's leases as lost
    (this process also runs moto's server: its own threads wait for the GIL under load)."""

    def __init__(self, fleet: MetricFleet, coverage: Coverage) -> None:
        self.fleet, self.coverage = fleet, coverage
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="coverage", daemon=True)
        self._http = httpx.Client(timeout=1.0)
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="scrape")

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._pool.shutdown()
        self._http.close()

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            started = time.time()
            running = [
                inc.replica_id
                for inc in list(self.fleet.live.values())
                if inc.replica_id not in self.fleet.stopped
            ]
            held = list(self._pool.map(self._held, running))
            covered = sum(h or 0 for h in held)
            unanswered = sum(1 for h in held if h is None)
            self.coverage.samples.append(Sample(started, time.time(), min(covered, 99), unanswered))

    def _held(self, replica: str) -> int | None:
        try:
            body = self._http.get(f"http://127.0.0.1:{self.fleet.ports[replica]}/metrics").text
        except httpx.ConnectError:
            return 0  # not listening yet: `run` serves /metrics before it takes any lease
        except httpx.HTTPError:
            return None
        return sum(int(float(n)) for r, n in HELD.findall(body) if r == replica)


def recovered(coverage: Coverage, since: float, until: float) -> float | None:
    """Seconds from an event to the end of the first sample, started after it and answered
    by every replica, with every stream covered again."""
    for s in coverage.samples:
        if since < s.started and s.at <= until and not s.unanswered:
            if s.covered >= coverage.streams:
                return s.at - since
    return None


def late_rounds(body: str) -> list[float]:
    """Renewal lateness as bucket upper bounds, one per round (from the histogram)."""
    out: list[float] = []
    below = 0.0
    for le, count in LATE.findall(body):
        n = float(count) - below
        below = float(count)
        out += [float("inf") if le == "+Inf" else float(le)] * int(n)
    return out


@contextmanager
def burning(processes: int) -> Iterator[None]:
    """A busy loop per core: the run must hold on a saturated host too."""
    procs = [multiprocessing.Process(target=_burn, daemon=True) for _ in range(processes)]
    for p in procs:
        p.start()
    try:
        yield
    finally:
        for p in procs:
            p.kill()
            p.join()


def _burn() -> None:
    while True:
        pass


def backlog(stage: Stage, events: int, rng: random.Random) -> None:
    """History every source must page through first (one fake: every source reads it)."""
    now = int(time.time())
    for _ in range(events // 100):
        stage.feeder.add_audit(now - rng.randint(60, 3000), 100)


def start_fleet(stage: Stage, workdir: Path, events: int, rng: random.Random) -> MetricFleet:
    """Give every source a backlog, start the replicas and wait until every stream is held."""
    stage.slack.audit_max_page = 200
    backlog(stage, events, rng)
    fleet = MetricFleet(workdir, stage.config, stage.knobs)
    stage.fleet = fleet
    for slot in range(stage.knobs.replicas):
        fleet.start(slot)
    stage.wait_balanced(timeout=60, even=False)
    return fleet


def run(
    workdir: Path,
    endpoint: str,
    *,
    seed: int,
    kills: int,
    stops: int,
    lease_seconds: float = 6.0,
    poll: int = 2,
    events: int = 5000,
    sources: int = 3,
    log: Any = print,
) -> tuple[Coverage, Result]:
    """`kills` SIGKILLs and `stops` SIGSTOPs in a seeded order, each once the previous
    one's failover had the bound and a few seconds more to finish and the spread evened
    out."""
    knobs = Knobs(
        sources=sources,
        replicas=3,
        lease_seconds=lease_seconds,
        renew_seconds=lease_seconds / 3,
        poll_interval=poll,
        page_size=200,
        batch_max_events=500,
    )
    rng = random.Random(seed)
    streams = knobs.sources * len(LOG_TYPES)
    coverage = Coverage(lease_seconds, knobs.poll_interval, streams)
    order = ["kill"] * kills + ["stop"] * stops
    rng.shuffle(order)
    with Stage(workdir, endpoint, knobs, seed=seed) as stage:
        fleet = start_fleet(stage, workdir, events, rng)
        _settle(stage, lease_seconds)  # so the first event hits a replica with its share
        with Sampler(fleet, coverage):
            for kind in order:
                coverage.events.append(_disturb(stage, fleet, kind, rng, lease_seconds))
                log(f"{kind} {coverage.events[-1].replica} load {coverage.events[-1].load:.2f}")
                time.sleep(coverage.bound + 3)
                _settle(stage, lease_seconds)
            for i, e in enumerate(coverage.events):
                nxt = coverage.events[i + 1].at if i + 1 < len(coverage.events) else time.time()
                e.recovered = recovered(coverage, e.at, nxt)
            coverage.lateness = _lateness(fleet, {e.replica for e in coverage.events})
        result = stage.finish()
    stopped = {e.replica for e in coverage.events if e.kind == "stop"}
    for inc in fleet.all:
        if inc.replica_id not in stopped:
            n = len(fleet.log_lines(inc, "lease expired before renewal"))
            coverage.expired[inc.replica_id] = n
        coverage.store_failed[inc.replica_id] = len(fleet.log_lines(inc, "state store failed"))
    coverage.timelines = timeline.lines(coverage.events, fleet, lease_seconds)
    coverage.load = _uptime()
    return coverage, result


def _settle(stage: Stage, lease: float) -> None:
    """Before the next event, let the spread even out (it holds off for a lease period
    after a failover): each event is then timed from a settled fleet, not from the
    handovers the previous one set off."""
    try:
        stage.wait_balanced(timeout=3 * lease, even=True)
    except AssertionError:
        pass  # a spread still uneven is no failure; the next event is timed all the same


def _disturb(
    stage: Stage, fleet: MetricFleet, kind: str, rng: random.Random, lease: float
) -> Event:
    slot = rng.choice(sorted(fleet.live))
    inc = fleet.live[slot]
    event = Event(kind, inc.replica_id, time.time(), load=os.getloadavg()[0])
    if kind == "kill":
        fleet.kill(slot)
        stage.kills += 1
        time.sleep(rng.uniform(0.0, 3.0))
        fleet.start(slot)
        stage.restarts += 1
    else:
        fleet.stopped[inc.replica_id] = event.at
        inc.proc.send_signal(signal.SIGSTOP)
        threading.Timer(2 * lease, lambda: _resume(fleet, inc)).start()
    return event


def _resume(fleet: MetricFleet, inc: Incarnation) -> None:
    inc.proc.send_signal(signal.SIGCONT)
    fleet.stopped.pop(inc.replica_id, None)


def _lateness(fleet: MetricFleet, stopped: set[str]) -> list[float]:
    """Rounds of the replicas never stopped (a stopped one's round runs as late as the
    stop was long, by design)."""
    out: list[float] = []
    with httpx.Client(timeout=2) as http:
        for inc in fleet.live.values():
            if inc.replica_id in stopped:
                continue
            url = f"http://127.0.0.1:{fleet.ports[inc.replica_id]}/metrics"
            try:
                out += late_rounds(http.get(url).text)
            except httpx.HTTPError:
                continue
    return out


def _uptime() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--stops", type=int, default=10)
    parser.add_argument("--lease", type=float, default=6.0)
    parser.add_argument("--poll", type=int, default=2, help="poll_interval_seconds")
    parser.add_argument("--events", type=int, default=5000, help="backlog audit events")
    parser.add_argument("--burn", type=int, default=0, help="busy-loop processes")
    parser.add_argument("--sources", type=int, default=3)
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**31)
    with moto_endpoint() as endpoint, burning(args.burn), tempfile.TemporaryDirectory() as tmp:
        coverage, result = run(
            Path(tmp),
            endpoint,
            seed=seed,
            kills=args.kills,
            stops=args.stops,
            lease_seconds=args.lease,
            poll=args.poll,
            events=args.events,
            sources=args.sources,
        )
    print(f"seed={seed} burn={args.burn}")
    print(result.report())
    print(coverage.report())
    ok = result.exact() and all(r <= coverage.bound for r in coverage.recoveries())
    ok = ok and len(coverage.recoveries()) == len(coverage.events)
    return 0 if ok and not any(coverage.expired.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
