"""Replica chaos: several `slack-connector run` processes share sources through DynamoDB.

All of them run against one fake Slack fed live by `harness.Feeder`, moto's server for
S3 and DynamoDB, and a state table made by `state init`. Every source reads the same
Slack data, so each source's output must hold the fake's truth exactly once.

What is read back, besides S3:

* each replica's JSON log: every successful poll (`poll done`: end time and duration),
  so overlapping polls of one stream by two replicas and failover times can be measured;
* the lease items, to know who holds what when.

    python -m tests.chaos.replicas --seed 7 --seconds 60
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import orjson

from tests.chaos.harness import (
    ROOT,
    TOKEN,
    Counts,
    Feeder,
    Truth,
    _free_port_sections,
    child_env,
    output_section,
    read_bucket,
    source_section,
    tally,
)
from tests.fakes.moto_server import AWS_ENV, moto_endpoint
from tests.fakes.slack_server import FakeSlack

Stream = tuple[str, str]
LOG_TYPES = ("audit", "access", "integration")
SCHEDULING_MARGIN = 10.0


@dataclass(frozen=True)
class Poll:
    replica: str
    stream: Stream
    start: float
    end: float


@dataclass
class Incarnation:
    slot: int
    replica_id: str
    proc: subprocess.Popen[bytes]
    log: Path
    started: float
    killed: float | None = None


@dataclass
class Knobs:
    sources: int = 4
    replicas: int = 3
    lease_seconds: float = 4.0
    renew_seconds: float = 0.5
    poll_interval: int = 1
    page_size: int = 20
    batch_max_events: int = 40
    late_overlap: int = 300


def write_config(
    path: Path,
    knobs: Knobs,
    *,
    table: str,
    bucket: str,
    endpoint: str,
    slack: FakeSlack,
    state_endpoint: str | None = None,
) -> None:
    """`state_endpoint`: where the replicas reach DynamoDB, if not at `endpoint` (a fault
    proxy in front of it)."""
    sources = "".join(
        source_section(f"src{i}", slack, knobs.poll_interval, knobs.page_size, knobs.late_overlap)
        for i in range(knobs.sources)
    )
    path.write_text(
        f"""
[state]
type = "dynamodb"
table = "{table}"
region = "us-east-1"
endpoint_url = "{state_endpoint or endpoint}"
lease_seconds = {knobs.lease_seconds}
renew_seconds = {knobs.renew_seconds}
"""
        + output_section(bucket, endpoint, knobs.batch_max_events)
        + sources
        + _free_port_sections(),
        encoding="utf-8",
    )


class Fleet:
    """The replica processes, one slot each, restarted under a new replica id after a kill."""

    def __init__(self, workdir: Path, config: Path, knobs: Knobs) -> None:
        self.workdir = workdir
        self.config = config
        self.knobs = knobs
        self.live: dict[int, Incarnation] = {}
        self.all: list[Incarnation] = []

    def env(self, replica_id: str) -> dict[str, str]:
        """A replica is configured through the environment, as the README says."""
        env = child_env()
        env["SLACK_CONNECTOR__STATE__REPLICA_ID"] = replica_id
        return env

    def start(self, slot: int) -> Incarnation:
        n = sum(1 for i in self.all if i.slot == slot)
        replica_id = f"slot{slot}-run{n}"
        log = self.workdir / f"{replica_id}.log"
        proc = subprocess.Popen(
            [sys.executable, "-m", "connector.cli.main", "run", "--config", str(self.config)],
            cwd=ROOT,
            env=self.env(replica_id),
            stdout=subprocess.DEVNULL,
            stderr=log.open("wb"),
        )
        inc = Incarnation(slot, replica_id, proc, log, time.time())
        self.live[slot] = inc
        self.all.append(inc)
        return inc

    def kill(self, slot: int, sig: signal.Signals = signal.SIGKILL) -> Incarnation:
        inc = self.live.pop(slot)
        inc.killed = time.time()
        inc.proc.send_signal(sig)
        inc.proc.wait(timeout=30)
        return inc

    def stop_all(self, timeout: float = 30.0) -> None:
        """A replica restarted moments ago is let finish starting first: a SIGTERM while
        Python still imports the connector ends it before any handler exists."""
        for inc in self.live.values():
            _wait_started(inc, timeout)
        for inc in self.live.values():
            inc.proc.send_signal(signal.SIGTERM)
        for inc in self.live.values():
            code = inc.proc.wait(timeout=timeout)
            if code != 0:
                tail = b"\n".join(inc.log.read_bytes().splitlines()[-15:]).decode(errors="replace")
                raise AssertionError(
                    f"{inc.replica_id} exited {code} on SIGTERM; its log ends:\n{tail}"
                )
        self.live.clear()

    def polls(self) -> list[Poll]:
        out = []
        for inc in self.all:
            for line in inc.log.read_bytes().splitlines():
                try:
                    rec = orjson.loads(line)
                except orjson.JSONDecodeError:
                    continue
                if rec.get("message") == "poll done":
                    end = _ts(rec["time"])
                    stream = (rec["source_id"], rec["log_type"])
                    out.append(Poll(inc.replica_id, stream, end - float(rec["seconds"]), end))
        return sorted(out, key=lambda p: p.start)

    def log_lines(self, inc: Incarnation, message: str) -> list[dict[str, Any]]:
        out = []
        for line in inc.log.read_bytes().splitlines():
            try:
                rec = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            if message in str(rec.get("message", "")) or message in str(rec.get("error", "")):
                out.append(rec)
        return out


def _ts(text: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def overlaps(polls: list[Poll]) -> list[tuple[Poll, Poll]]:
    """Successful polls of one stream by two replicas at the same time."""
    by_stream: dict[Stream, list[Poll]] = defaultdict(list)
    for p in polls:
        by_stream[p.stream].append(p)
    bad = []
    for items in by_stream.values():
        items.sort(key=lambda p: p.start)
        for a, b in itertools.pairwise(items):
            if a.replica != b.replica and b.start < a.end:
                bad.append((a, b))
    return bad


def failovers(fleet: Fleet, polls: list[Poll], lease: float) -> list[tuple[str, Stream, float]]:
    """Per killed replica and stream it polled within a lease period before it died: the
    kill → the first poll of that stream by another replica.

    Measured from the kill, not from the dead replica's last poll: a poll that started up
    to a lease period before the kill would spend the whole 2 x lease + poll bound before
    any failover began, leaving no margin for a loaded host's scheduling."""
    out = []
    for inc in fleet.all:
        if inc.killed is None:
            continue
        mine = [p for p in polls if p.replica == inc.replica_id and p.start <= inc.killed]
        recent = {p.stream for p in mine if p.start >= inc.killed - lease}
        for stream in sorted(recent):
            last = max(p.start for p in mine if p.stream == stream)
            after = [
                p.start
                for p in polls
                if p.stream == stream and p.replica != inc.replica_id and p.start > last
            ]
            if after:
                out.append((inc.replica_id, stream, max(0.0, min(after) - inc.killed)))
    return out


def lease_owners(endpoint: str, table: str) -> dict[str, tuple[str, int]]:
    db = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1")
    items = db.query(
        TableName=table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "L"}},
        ConsistentRead=True,
    )["Items"]
    return {i["sk"]["S"]: (i["owner"]["S"], int(i["epoch"]["N"])) for i in items}


PASSING = {"ok", "standby", "lease_lost"}
_ONCE = re.compile(r"^(\S+) (\w+): (\w+)(?: written=(\d+) .*objects=(\d+))?")


def catch_up(config: Path, passes: int = 8) -> int:
    """`slack-connector once` until a pass polls every stream and lands nothing new (all
    replicas stopped first). A pass that could not poll a stream (its lease still held by a
    stopped replica whose release failed, or lapsed on a loaded host) is followed by
    another; a failed poll fails the catch-up. A pass gets 240 s: one `once` of every stream
    (a fresh interpreter, the search index built for each object) went past 120 s twice at a
    load of about 22 (the same tests passed at a load of 5-10)."""
    for n in range(1, passes + 1):
        done = subprocess.run(
            [sys.executable, "-m", "connector.cli.main", "once", "--config", str(config)],
            cwd=ROOT,
            env=child_env(),
            capture_output=True,
            timeout=240,
            check=False,
        )
        lines = [_ONCE.match(x) for x in done.stdout.decode().splitlines()]
        states = [m.group(3) for m in lines if m]
        if done.returncode not in (0, 1) or not states or set(states) - PASSING:
            raise AssertionError(f"catch-up pass failed: {done.stdout!r} {done.stderr[-2000:]!r}")
        if set(states) == {"ok"} and all(m and int(m.group(5) or 0) == 0 for m in lines if m):
            return n
    raise AssertionError("catch-up did not converge")


def per_source(
    truth: Truth, objects: dict[str, list[dict[str, Any]]], sources: int
) -> dict[str, tuple[list[Counts], int]]:
    out = {}
    for i in range(sources):
        sid = f"src{i}"
        mine = {k: v for k, v in objects.items() if k.rsplit("/", 1)[-1].startswith(f"{sid}_")}
        out[sid] = tally(truth, mine)
    return out


@dataclass
class Result:
    seed: int
    knobs: Knobs
    kills: int
    restarts: int
    counts: dict[str, tuple[list[Counts], int]]
    overlaps: list[tuple[Poll, Poll]]
    failovers: list[tuple[str, Stream, float]]
    catchup_passes: int
    elapsed: float
    notes: list[str] = field(default_factory=list)

    @property
    def bound(self) -> float:
        """2 lease periods + one poll from the kill, plus `SCHEDULING_MARGIN`: the first
        poll after a takeover waits for a free worker of the successor's scheduler, which
        on 2 loaded cores runs late (10.3 s seen at load 9 with lease 4 s; 12.9 s and
        14.7 s against the 15 s of a 6 s margin at load ~10, so 10 s: several seconds
        above the worst seen). How fast the leases themselves move is held to 1.5 lease
        periods + one poll by test_coverage."""
        return 2 * self.knobs.lease_seconds + self.knobs.poll_interval + SCHEDULING_MARGIN

    def exact(self) -> bool:
        return all(
            c.missing == 0 and c.duplicated == 0 and c.unexpected == 0 and q == 0
            for counts, q in self.counts.values()
            for c in counts
        )

    def report(self) -> str:
        times = sorted(f for *_, f in self.failovers)
        lines = [
            f"replica chaos seed={self.seed} replicas={self.knobs.replicas} "
            f"sources={self.knobs.sources} kills={self.kills} restarts={self.restarts} "
            f"lease={self.knobs.lease_seconds}s poll={self.knobs.poll_interval}s "
            f"elapsed={self.elapsed:.1f}s catch-up passes={self.catchup_passes}",
            f"{'source':<8}{'log type':<12}{'expected':>9}{'landed':>8}{'missing':>8}"
            f"{'duplicated':>11}{'unexpected':>11}",
        ]
        for sid, (counts, q) in self.counts.items():
            for c in counts:
                lines.append(
                    f"{sid:<8}{c.log_type:<12}{c.expected:>9}{c.landed:>8}{c.missing:>8}"
                    f"{c.duplicated:>11}{c.unexpected:>11}"
                )
            if q:
                lines.append(f"{sid}: {q} quarantined rows")
        if times:
            lines.append(
                f"failover (kill -> successor's first poll of the stream), "
                f"{len(times)} streams: min {times[0]:.2f}s median {times[len(times) // 2]:.2f}s "
                f"max {times[-1]:.2f}s; bound 2 x lease + poll + {SCHEDULING_MARGIN:.0f}s = "
                f"{self.bound:.1f}s"
            )
        lines.append(f"overlapping polls of one stream by two replicas: {len(self.overlaps)}")
        lines.extend(self.notes)
        return "\n".join(lines)


class Stage:
    """One fake Slack fed live, a bucket, a state table made by `state init`, a fleet, and
    a sampler that watches every checkpoint item's writer epoch never go back."""

    def __init__(
        self,
        workdir: Path,
        endpoint: str,
        knobs: Knobs,
        *,
        seed: int,
        slow_requests: float = 0.0,
        state_endpoint: str | None = None,
    ) -> None:
        self.workdir, self.endpoint, self.knobs, self.seed = workdir, endpoint, knobs, seed
        self.started = time.monotonic()
        workdir.mkdir(parents=True, exist_ok=True)
        for key, value in AWS_ENV.items():
            os.environ.setdefault(key, value)
        self.s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
        self.bucket, self.table = f"replicas-{uuid.uuid4().hex[:10]}", f"st-{uuid.uuid4().hex[:10]}"
        self.s3.create_bucket(Bucket=self.bucket)
        self.truth = Truth()
        self.slack = FakeSlack(tokens=(TOKEN,), seed=seed).start()
        self.slack.audit_max_page = 10
        if slow_requests:
            self.slack.on_request = lambda method, params: time.sleep(slow_requests)
        self.feeder = Feeder(self.slack, self.truth, random.Random(seed + 1), interval=0.4)
        self.config = workdir / "config.toml"
        write_config(
            self.config,
            knobs,
            table=self.table,
            bucket=self.bucket,
            endpoint=endpoint,
            slack=self.slack,
            state_endpoint=state_endpoint,
        )
        init = subprocess.run(
            [
                sys.executable,
                "-m",
                "connector.cli.main",
                "state",
                "init",
                "--config",
                str(self.config),
            ],
            cwd=ROOT,
            env=child_env(),
            capture_output=True,
            timeout=60,
            check=False,
        )
        if init.returncode != 0:
            raise AssertionError(f"state init failed: {init.stderr!r}")
        self.fleet = Fleet(workdir, self.config, knobs)
        self.kills = self.restarts = 0
        self.epoch_went_back: list[str] = []
        self.spread: list[int] = []
        self._sampling = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self.result: Result | None = None

    def __enter__(self) -> Stage:
        self.feeder.seed(int(time.time()))
        self.feeder.start()
        self._sampler.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._sampling.set()
        for inc in list(self.fleet.live.values()):
            inc.proc.kill()
            inc.proc.wait()
        self.feeder._stop.set()
        self.slack.stop()

    def _sample(self) -> None:
        last: dict[tuple[str, str], tuple[str, int]] = {}
        while not self._sampling.wait(0.1):
            try:
                now = checkpoints(self.endpoint, self.table, self.knobs.sources)
            except Exception:  # a missed sample is no evidence either way
                continue
            for stream, (owner, epoch) in now.items():
                before = last.get(stream)
                if before and epoch < before[1]:
                    self.epoch_went_back.append(f"{stream}: {before} -> {(owner, epoch)}")
                last[stream] = (owner, epoch)

    def kill_and_restart(self, rng: random.Random) -> None:
        """SIGKILL a live replica that holds leases (one holding none, e.g. restarted a
        moment ago on a loaded host, has no failover to measure), restart it soon after."""
        holders = {o for o, _ in lease_owners(self.endpoint, self.table).values()}
        slots = sorted(self.fleet.live)
        holding = [s for s in slots if self.fleet.live[s].replica_id in holders]
        slot = rng.choice(holding or slots)
        self.fleet.kill(slot)
        self.kills += 1
        time.sleep(rng.uniform(0.0, 3.0))
        self.fleet.start(slot)
        self.restarts += 1

    def wait_balanced(self, timeout: float = 60.0, *, even: bool = True) -> None:
        """Every lease held by a live replica (and, if `even`, each holding its share)."""
        deadline = time.monotonic() + timeout
        streams = self.knobs.sources * len(LOG_TYPES)
        while time.monotonic() < deadline:
            live = {i.replica_id for i in self.fleet.live.values()}
            owners = [o for o, _ in lease_owners(self.endpoint, self.table).values()]
            share = -(-streams // max(1, len(live)))
            if (
                len(owners) == streams
                and set(owners) <= live
                and (not even or all(owners.count(r) <= share for r in live))
            ):
                return
            time.sleep(0.3)
        held = {r: owners.count(r) for r in set(owners)}
        raise AssertionError(f"leases never settled on the live replicas {sorted(live)}: {held}")

    def finish(self) -> Result:
        """Stop the feed, let the replicas settle, stop them, catch up, and count."""
        self.feeder.stop()
        self.wait_balanced(timeout=4 * self.knobs.lease_seconds + 30, even=False)
        self.spread = sorted(
            Counter(o for o, _ in lease_owners(self.endpoint, self.table).values() if o).values()
        )
        time.sleep(2 * self.knobs.poll_interval + 1)
        self.fleet.stop_all()
        passes = catch_up(self.config)
        self._sampling.set()
        polls = self.fleet.polls()
        objects = read_bucket(self.s3, self.bucket)
        self.result = Result(
            seed=self.seed,
            knobs=self.knobs,
            kills=self.kills,
            restarts=self.restarts,
            counts=per_source(self.truth, objects, self.knobs.sources),
            overlaps=overlaps(polls),
            failovers=failovers(self.fleet, polls, self.knobs.lease_seconds),
            catchup_passes=passes,
            elapsed=time.monotonic() - self.started,
            notes=[f"leases per live replica when the feed stopped: {self.spread}"],
        )
        return self.result


def run(
    workdir: Path,
    endpoint: str,
    *,
    seed: int | None = None,
    seconds: float = 45.0,
    knobs: Knobs | None = None,
    kill_every: tuple[float, float] = (4.0, 9.0),
    min_kills: int = 0,
    log: Any = print,
) -> Result:
    """Start the fleet, SIGKILL a random replica every few seconds (and restart it under a
    new id), then stop the feed, catch up and count. The run lasts `seconds`, or until
    `min_kills` kills have happened, whichever is later, so a slow host (restarts take
    longer under load) still gets the kills a test asks for."""
    knobs = knobs or Knobs()
    seed = seed if seed is not None else random.SystemRandom().randrange(2**31)
    log(f"replica chaos seed={seed}")
    rng = random.Random(seed)
    with Stage(workdir, endpoint, knobs, seed=seed) as stage:
        for slot in range(knobs.replicas):
            stage.fleet.start(slot)
        deadline = time.monotonic() + seconds
        while True:
            time.sleep(rng.uniform(*kill_every))
            if time.monotonic() >= deadline and stage.kills >= min_kills:
                break
            stage.kill_and_restart(rng)
        return stage.finish()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--sources", type=int, default=10)
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--lease", type=float, default=4.0, help="lease_seconds")
    parser.add_argument("--poll", type=int, default=1, help="poll_interval_seconds")
    parser.add_argument("--workdir", help="keep logs and config here (default: a temp dir)")
    args = parser.parse_args()
    import tempfile

    with moto_endpoint() as endpoint, tempfile.TemporaryDirectory() as tmp:
        result = run(
            Path(args.workdir or tmp),
            endpoint,
            seed=args.seed,
            seconds=args.seconds,
            knobs=Knobs(
                sources=args.sources,
                replicas=args.replicas,
                lease_seconds=args.lease,
                poll_interval=args.poll,
            ),
        )
        print(result.report())
    return 0 if result.exact() and not result.overlaps else 1


if __name__ == "__main__":
    sys.exit(main())


def checkpoints(endpoint: str, table: str, sources: int) -> dict[tuple[str, str], tuple[str, int]]:
    """(source, checkpoint key) -> (owner, epoch) of the replica that wrote it last."""
    db = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1")
    out = {}
    for i in range(sources):
        items = db.query(
            TableName=table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": f"C#src{i}"}},
            ConsistentRead=True,
        )["Items"]
        for item in items:
            out[(f"src{i}", item["sk"]["S"])] = (item["owner"]["S"], int(item["epoch"]["N"]))
    return out


def _wait_started(inc: Incarnation, timeout: float) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline and inc.proc.poll() is None:
        if b"scheduler started" in inc.log.read_bytes():
            return
        time.sleep(0.2)
