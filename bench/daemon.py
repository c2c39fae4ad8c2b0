"""The daemon in a child of its own: `python -m bench.daemon SPEC.json RESULT.json`.

Runs `connector.service.scheduler.run_forever` (the code `slack-connector run` runs) for
`seconds`, sampling the process once a second: RSS, CPU seconds, open file descriptors,
threads and the state file's size. Every scheduled poll's delay between its due time
and its start is recorded by wrapping APScheduler's `run_job`, which receives the run
times the trigger computed. With `count_objects`, every 10 s the objects the collector
tracks are counted too: garbage piling up would show as a count that keeps growing.
With `trace` = N, tracemalloc runs (slower: for finding where memory goes, not for the
figures) and the N source lines holding most memory at the traced peak are reported.
The fleet and soak benchmarks (`bench.fleet`, `bench.soak`) read the samples; the fake
Slack lives in the parent, so none of its cost is counted here.
"""

from __future__ import annotations

import gc
import json
import os
import resource
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def _status() -> dict[str, float]:
    out: dict[str, float] = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) / 1024
        elif key == "Threads":
            out[key] = int(value)
    return out


def _cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def main(spec_path: str, result_path: str) -> None:
    import apscheduler.executors.pool as pool

    from connector import logs
    from connector.config.load import parse
    from connector.service.app import App, tune_interpreter
    from connector.service.scheduler import run_forever

    spec = json.loads(Path(spec_path).read_text())
    logs.setup("WARNING")
    settings = parse(spec["settings"])
    tune_interpreter()
    delays: list[tuple[float, float]] = []
    original = pool.run_job
    started = time.monotonic()

    durations: list[tuple[float, float, str]] = []
    rounds: list[tuple[float, float]] = []

    def timed(job: Any, alias: str, run_times: list[datetime], logger: str) -> Any:
        late = datetime.now(UTC).timestamp() - run_times[-1].timestamp()
        begun = time.monotonic()
        delays.append((begun - started, late))
        try:
            return original(job, alias, run_times, logger)
        finally:
            durations.append((begun - started, time.monotonic() - begun, str(job.id)))

    pool.run_job = timed  # type: ignore[assignment]
    app = App(settings)
    if spec.get("lease_rounds"):
        metered = app.metrics.lease_round

        def lease_round(late: float) -> None:
            rounds.append((time.monotonic() - started, late))
            metered(late)

        app.metrics.lease_round = lease_round  # type: ignore[method-assign]
    samples: list[dict[str, float]] = []
    state = Path(getattr(settings.state, "path", "") or "/nonexistent/state")

    def sample() -> None:
        while not app.stop.wait(1.0):
            row = _status()
            row["t"] = time.monotonic() - started
            row["cpu"] = _cpu()
            row["fds"] = len(os.listdir("/proc/self/fd"))
            row["state_bytes"] = sum(
                p.stat().st_size for p in state.parent.glob(state.name + "*") if p.exists()
            )
            row["polls"] = len(delays)
            if spec.get("count_objects") and int(row["t"]) % 10 == 0:
                row["gc_objects"] = len(gc.get_objects())
                row["gc_collections"] = sum(g["collections"] for g in gc.get_stats())
            samples.append(row)
            if row["t"] >= spec["seconds"]:
                app.stop.set()

    traced: dict[str, Any] = {"peak_mb": 0.0, "top": []}
    if spec.get("trace"):
        import tracemalloc

        tracemalloc.start(1)
        inner = sample

        def sample() -> None:
            watcher = threading.Thread(target=inner, daemon=True)
            watcher.start()
            while watcher.is_alive():
                watcher.join(2.0)
                current = tracemalloc.get_traced_memory()[0] / 2**20
                if current > traced["peak_mb"] * 1.05:
                    stats = tracemalloc.take_snapshot().statistics("lineno")
                    traced["peak_mb"] = current
                    traced["top"] = [
                        (str(s.traceback[0]), s.size / 2**20, s.count)
                        for s in stats[: spec["trace"]]
                    ]

    sampler = threading.Thread(target=sample, name="bench-sampler", daemon=True)
    cpu0 = _cpu()
    sampler.start()
    if spec.get("listeners"):  # as `slack-connector run` starts them
        app.start_health()
        app.start_slash()
    try:
        run_forever(app)
    finally:
        app.close()
    Path(result_path).write_text(
        json.dumps(
            {
                "samples": samples,
                "delays": delays,
                "durations": durations,
                "lease_rounds": rounds,
                "started_monotonic": started,
                "cpu_total": _cpu() - cpu0,
                "peak_rss_mb": _status()["VmHWM"],
                "traced": traced,
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
