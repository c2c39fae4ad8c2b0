"""What the fleet and soak benchmarks share: a fake Slack with first-run backlogs and live
events, and one daemon child (`bench.daemon`) run against it.

Every source has a token of its own (so a budget of its own, as separate organisations
would) and reads the same fake data; each dedupes and writes it on its own.
"""

from __future__ import annotations

import gzip
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.run import ROOT, machine
from tests import factories
from tests.fakes.slack_server import FakeSlack

FOLDERS = {
    "audit": "Slack.AuditLogs",
    "access": "Slack.AccessLogs",
    "integration": "Slack.IntegrationLogs",
}


@dataclass
class Backlog:
    """First-run history per source: how many rows of each log type, spread evenly over
    how many days before now (which sets how many hour or day partitions they fill)."""

    audit: int = 2_000
    access: int = 1_000
    integration: int = 200
    audit_days: float = 1
    access_days: float = 90
    integration_days: float = 180


@dataclass
class World:
    """The fake, its data and a feeder thread adding live events every second."""

    fake: FakeSlack
    tokens: list[str]
    audit_per_second: int = 2
    web_every_seconds: int = 5
    rotate_every_seconds: float = 0.0
    stop: threading.Event = field(default_factory=threading.Event)
    live: list[str] = field(default_factory=list)
    rotations: int = 0

    def feed(self, token_files: list[Path]) -> None:
        n, last_rotation = 10_000_000, time.monotonic()
        while not self.stop.wait(1.0):
            now = int(time.time())
            self.fake.add_audit([factories.audit(n + i, now) for i in range(self.audit_per_second)])
            n += self.audit_per_second
            if n % (self.audit_per_second * self.web_every_seconds) == 0:
                self.fake.add_access([factories.access(f"L{n}", "192.0.2.1", "live", now)])
                self.fake.add_integration([factories.integration(n, now)])
            if self.rotate_every_seconds and (
                time.monotonic() - last_rotation >= self.rotate_every_seconds
            ):
                self.rotate(token_files)
                last_rotation = time.monotonic()

    def rotate(self, token_files: list[Path]) -> None:
        """A new token per source in its file; the old one stays valid for one more minute,
        as a secret manager's overlapping rotation would leave it."""
        self.rotations += 1
        for i, path in enumerate(token_files):
            new = f"xoxp-rotated-{i}-{self.rotations:06d}"
            self.live.append(new)
            path.write_text(new)
        self.live = self.live[-2 * len(token_files) :]


def make_world(sources: int, backlog: Backlog) -> World:
    tokens = [f"xoxp-fleet-{i:04d}" for i in range(sources)]
    fake = FakeSlack(tokens=tokens).start()
    world = World(fake, tokens)
    fake.issued_tokens = lambda: world.live
    now = int(time.time())

    def spread(days: float, count: int) -> float:
        return days * 86_400 / max(1, count)

    step = spread(backlog.audit_days, backlog.audit)
    fake.add_audit([factories.audit(i, now - 60 - int(i * step)) for i in range(backlog.audit)])
    step = spread(backlog.access_days, backlog.access)
    fake.add_access(
        [
            factories.access(
                f"U{i}",
                f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}",
                "UA",
                now - 120 - int(i * step),
            )
            for i in range(backlog.access)
        ]
    )
    step = spread(backlog.integration_days, backlog.integration)
    fake.add_integration(
        [factories.integration(i, now - 120 - int(i * step)) for i in range(backlog.integration)]
    )
    return world


def run_daemon(
    work: Path,
    world: World,
    seconds: float,
    *,
    poll_interval: int = 60,
    token_files: bool = False,
    limits: dict[str, Any] | None = None,
    overrides: dict[str, Any] | None = None,
    count_objects: bool = False,
    trace: int = 0,
) -> dict[str, Any]:
    """One daemon child for `seconds`; returns its samples, the fake's requests and the output."""
    work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    sources = []
    files: list[Path] = []
    for i, token in enumerate(world.tokens):
        cfg: dict[str, Any] = {
            "id": f"src{i:04d}",
            "audit_api_url": world.fake.audit_api_url,
            "web_api_url": world.fake.web_api_url,
            "poll_interval_seconds": poll_interval,
            "first_run_lookback_seconds": 181 * 86_400,
            "late_event_overlap_seconds": min(300, 5 * poll_interval),
            **(overrides or {}),
        }
        if token_files:
            path = work / f"token-{i}"
            path.write_text(token)
            files.append(path)
            cfg["token_file"] = str(path)
        else:
            env[f"FLEET_TOKEN_{i}"] = token
            cfg["token_env"] = f"FLEET_TOKEN_{i}"
        sources.append(cfg)
    settings = {
        "state": {"path": str(work / "state.db")},
        "output": {"type": "local", "path": str(work / "out")},
        "metrics": {"enabled": False},
        "limits": limits or {},
        "sources": sources,
    }
    spec, result = work / "spec.json", work / "result.json"
    spec.write_text(
        json.dumps(
            {
                "settings": settings,
                "seconds": seconds,
                "count_objects": count_objects,
                "trace": trace,
            }
        )
    )
    feeder = threading.Thread(target=world.feed, args=(files,), daemon=True)
    first = len(world.fake.requests)
    feeder.start()
    proc = subprocess.run(
        [sys.executable, "-m", "bench.daemon", str(spec), str(result)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=seconds + 600,
        check=False,
    )
    world.stop.set()
    feeder.join()
    if proc.returncode != 0 or not result.exists():
        raise RuntimeError(f"daemon failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    out: dict[str, Any] = json.loads(result.read_text())
    requests = world.fake.requests[first:]
    out["requests"] = len(requests)
    out["n429"] = sum(1 for r in requests if r.status == 429)
    out["stderr_errors"] = sum(
        1
        for line in proc.stderr.splitlines()
        if '"level": "error"' in line or '"level":"error"' in line
    )
    out["objects"] = landed(work / "out")
    return out


def landed(root: Path) -> dict[str, tuple[int, int]]:
    """(objects, rows) per log type under the output directory."""
    counts: dict[str, tuple[int, int]] = {}
    for name, folder in FOLDERS.items():
        paths = list((root / "slack" / folder).rglob("*.json.gz"))
        rows = sum(gzip.decompress(p.read_bytes()).count(b"\n") for p in paths)
        counts[name] = (len(paths), rows)
    return counts


def window(samples: list[dict[str, float]], start: float) -> list[dict[str, float]]:
    return [s for s in samples if s["t"] >= start]


def median(samples: list[dict[str, float]], key: str) -> float:
    return statistics.median(s[key] for s in samples) if samples else 0.0


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def render(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def fmt(cells: list[str]) -> str:
        pairs = enumerate(zip(cells, widths, strict=True))
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in pairs)

    return "\n".join([fmt(headers), fmt(["-" * w for w in widths]), *map(fmt, rows)])


def footer(started: float) -> str:
    return f"finished in {time.perf_counter() - started:.0f}s; {machine()}"
