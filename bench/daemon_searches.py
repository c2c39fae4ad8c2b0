"""The real daemon's timing while `/seclogs` searches run: idle, then with 4 in flight.

    python -m bench.daemon_searches [--events 200000] [--idle 60] [--busy 60] [--searches 4]

A month of audit rows (`--events`, a fifth of them from the office NAT address, the
common indicator) is landed and indexed by the connector's own code (`bench.landed`).
One `bench.daemon` child runs `slack-connector run`'s scheduler against a fake Slack with
live events (`bench.live`), its state in DynamoDB (moto's server, so it holds and renews
leases), its probes and the `/seclogs` endpoint on 127.0.0.1, searches in worker processes
as configured by default (`search_processes = 2`). After a warm-up, `--idle` seconds with
no search, then `--busy` seconds in which `--searches` analysts each ask
`/seclogs search <office IP>` (signed as Slack signs), wait for the answer (at once or
at the response_url) and ask again. Reported per phase: poll start lateness (due time to
start, every scheduled poll) and poll duration, lease round lateness (a renewal round's end
after its due time), `/healthz` latency (asked every 0.5 s), searches answered, the
daemon process's CPU seconds (workers not included), the host's CPU busy share and load
average.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

from bench import landed
from bench.live import Backlog, make_world, percentile, render
from bench.run import ROOT, machine
from tests.fakes.moto_server import AWS_ENV, moto_endpoint
from tests.fakes.webhook_receiver import WebhookReceiver

SECRET = "bench-signing-secret-0123456789abcdef"
TEAM = "T0BENCH"
WARM = 40.0
"""Seconds before the idle phase: the fake's backlog polled, leases taken, workers warm."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def host_cpu() -> tuple[float, float]:
    """(busy, total) jiffies of the whole host, from /proc/stat."""
    fields = [float(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


class Phase:
    def __init__(self, name: str) -> None:
        self.name = name
        self.start = self.end = 0.0
        self.probes: list[float] = []
        self.loads: list[float] = []
        self.searches: list[float] = []
        self.cpu0 = self.cpu1 = (0.0, 0.0)

    def begin(self) -> None:
        self.start, self.cpu0 = time.monotonic(), host_cpu()

    def finish(self) -> None:
        self.end, self.cpu1 = time.monotonic(), host_cpu()

    def host_busy(self) -> float:
        busy, total = (b - a for a, b in zip(self.cpu0, self.cpu1, strict=True))
        return 100 * busy / total if total else 0.0


def signed(url: str, text: str, response_url: str, http: httpx.Client) -> str:
    body = urlencode(
        {
            "team_id": TEAM,
            "user_id": "U0BENCH",
            "command": "/seclogs",
            "text": text,
            "response_url": response_url,
            "trigger_id": "1.2.3",
        }
    ).encode()
    stamp = str(int(time.time()))
    digest = hmac.new(SECRET.encode(), f"v0:{stamp}:".encode() + body, hashlib.sha256)
    headers = {
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": "v0=" + digest.hexdigest(),
        "Content-Type": "application/x-www-form-urlencoded",
    }
    answer: str = http.post(url, content=body, headers=headers).json()["text"]
    return answer


def analyst(
    n: int, url: str, receiver: WebhookReceiver, phase: Phase, stop: threading.Event
) -> None:
    http = httpx.Client(timeout=30)
    asked = 0
    while not stop.is_set():
        asked += 1
        path = f"/a{n}/{asked}"
        t0 = time.monotonic()
        text = signed(url, f"search {landed.OFFICE_IP}", receiver.url(path), http)
        if text.startswith("Searching;"):
            while not stop.is_set() and not any(r.path == path for r in receiver.requests):
                time.sleep(0.1)
            if stop.is_set():
                return
        elif text.startswith("Too many"):
            time.sleep(1)
            continue
        phase.searches.append(time.monotonic() - t0)


def probe(url: str, phases: list[Phase], stop: threading.Event) -> None:
    http = httpx.Client(timeout=10)
    while not stop.wait(0.5):
        now = time.monotonic()
        current = next((p for p in phases if p.start <= now and not p.end), None)
        t0 = time.perf_counter()
        try:
            http.get(url)
        except httpx.HTTPError:
            continue  # not listening yet (warm-up)
        took = time.perf_counter() - t0
        if current is not None:
            current.probes.append(took)
            current.loads.append(os.getloadavg()[0])


def ms(values: list[float]) -> str:
    if not values:
        return "-"
    return "/".join(
        f"{1000 * v:.0f}" for v in (percentile(values, 0.5), percentile(values, 0.99), max(values))
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--idle", type=float, default=60)
    parser.add_argument("--busy", type=float, default=60)
    parser.add_argument("--searches", type=int, default=4)
    parser.add_argument("--poll", type=int, default=10, help="poll interval, seconds")
    args = parser.parse_args()
    started = time.perf_counter()
    os.environ.update(AWS_ENV)
    work = Path(tempfile.mkdtemp(prefix="bench-daemon-searches-"))
    now = int(time.time())
    landed.land(work / "out", args.events, now, days=30, indexed=True, office=0.2)
    print(f"landed {args.events} rows in {time.perf_counter() - started:.0f}s", file=sys.stderr)
    from connector.state import DynamoDBOptions

    with moto_endpoint() as endpoint, WebhookReceiver() as receiver:
        options = DynamoDBOptions.model_validate(
            {
                "type": "dynamodb",
                "table": f"bench-{uuid.uuid4().hex[:8]}",
                "region": "us-east-1",
                "endpoint_url": endpoint,
                "lease_seconds": 15,
            }
        )
        options.init()
        world = make_world(1, Backlog(audit=2_000, access=200, integration=50, audit_days=1))
        health, slash = free_port(), free_port()
        settings = {
            "state": options.model_dump(mode="json", exclude_none=True),
            "output": {"type": "local", "path": str(work / "out")},
            "metrics": {"enabled": True, "port": health},
            "slash_command": {
                "enabled": True,
                "port": slash,
                "signing_secret": {"env": "BENCH_SLASH_SECRET"},
                "allowed_team_ids": [TEAM],
            },
            "sources": [
                {
                    "id": "src0000",
                    "token_env": "FLEET_TOKEN_0",
                    "audit_api_url": world.fake.audit_api_url,
                    "web_api_url": world.fake.web_api_url,
                    "poll_interval_seconds": args.poll,
                }
            ],
        }
        seconds = WARM + args.idle + args.busy + 5
        spec, result = work / "spec.json", work / "result.json"
        spec.write_text(
            json.dumps(
                {"settings": settings, "seconds": seconds, "lease_rounds": True, "listeners": True}
            )
        )
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "FLEET_TOKEN_0": world.tokens[0],
            "BENCH_SLASH_SECRET": SECRET,
        }
        feeder = threading.Thread(target=world.feed, args=([],), daemon=True)
        feeder.start()
        child = subprocess.Popen(
            [sys.executable, "-m", "bench.daemon", str(spec), str(result)],
            cwd=ROOT,
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        idle, busy = Phase("idle"), Phase(f"{args.searches} searches")
        stop = threading.Event()
        prober = threading.Thread(
            target=probe, args=(f"http://127.0.0.1:{health}/healthz", [idle, busy], stop)
        )
        prober.start()
        time.sleep(WARM)
        idle.begin()
        time.sleep(args.idle)
        idle.finish()
        busy.begin()
        quit_asking = threading.Event()
        url = f"http://127.0.0.1:{slash}/slack/commands"
        asking = [
            threading.Thread(target=analyst, args=(n, url, receiver, busy, quit_asking))
            for n in range(args.searches)
        ]
        for thread in asking:
            thread.start()
        time.sleep(args.busy)
        busy.finish()
        quit_asking.set()
        _, stderr = child.communicate(timeout=600)
        stop.set()
        world.stop.set()
        prober.join()
        for thread in asking:
            thread.join(60)
        if child.returncode != 0 or not result.exists():
            print(stderr[-4000:], file=sys.stderr)
            return 1
    out: dict[str, Any] = json.loads(result.read_text())
    base = out["started_monotonic"]
    rows = []
    for phase in (idle, busy):
        lo, hi = phase.start - base, phase.end - base

        def inside(t: float, lo: float = lo, hi: float = hi) -> bool:
            return lo <= t < hi

        late = [d for t, d in out["delays"] if inside(t)]
        took = [d for t, d, _ in out["durations"] if inside(t)]
        rounds = [d for t, d in out["lease_rounds"] if inside(t)]
        cpu = [s["cpu"] for s in out["samples"] if inside(s["t"])]
        rows.append(
            [
                phase.name,
                str(len(late)),
                ms(late),
                ms(took),
                f"{len(rounds)}: {ms(rounds)}",
                ms(phase.probes),
                str(len(phase.searches)),
                f"{percentile(phase.searches, 0.5):.1f}" if phase.searches else "-",
                f"{cpu[-1] - cpu[0]:.1f}" if len(cpu) > 1 else "-",
                f"{phase.host_busy():.0f}",
                f"{min(phase.loads):.1f}-{max(phase.loads):.1f}" if phase.loads else "-",
            ]
        )
    headers = [
        "phase",
        "polls",
        "poll start late ms p50/p99/max",
        "poll duration ms p50/p99/max",
        "lease rounds: late ms p50/p99/max",
        "/healthz ms p50/p99/max",
        "searches answered",
        "search s p50",
        "daemon CPU s",
        "host CPU %",
        "load avg",
    ]
    print(render(headers, rows))
    print(
        f"{args.events} landed rows, office IP {landed.OFFICE_IP} in 20 %; poll every "
        f"{args.poll} s; {args.idle:g} s idle, {args.busy:g} s busy; "
        f"finished in {time.perf_counter() - started:.0f}s; {machine()}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
