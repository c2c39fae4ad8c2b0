"""The daemon loop: APScheduler, one interval job per source and log type.

`max_instances=1` keeps a slow poll from overlapping itself; `coalesce` turns a backlog of
missed runs into one; a little jitter keeps many sources from hitting Slack in the same
second. Shutdown waits for running polls, which stop between pages and keep every
checkpoint at or behind what was written.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from connector import clock
from connector.app import App

log = logging.getLogger(__name__)


def build(app: App) -> BackgroundScheduler:
    jobs = list(app.jobs())
    scheduler = BackgroundScheduler(
        timezone="UTC",
        executors={"default": ThreadPoolExecutor(max_workers=max(1, min(32, len(jobs))))},
        job_defaults={"max_instances": 1, "coalesce": True, "misfire_grace_time": None},
    )
    start = clock.now()
    for i, (runner, log_type) in enumerate(jobs):
        interval = runner.cfg.poll_interval_seconds
        scheduler.add_job(
            app.poll,
            IntervalTrigger(seconds=interval, jitter=max(1, min(10, interval // 10))),
            args=(runner.cfg.id, log_type),
            id=f"{runner.cfg.id}:{log_type}",
            name=f"poll {runner.cfg.id} {log_type}",
            next_run_time=start + timedelta(seconds=i % max(1, interval)),
        )
    return scheduler


def _poll_now(scheduler: BackgroundScheduler, stream: tuple[str, str]) -> None:
    """A lease just taken is polled now, not at its job's next tick: failover time."""
    try:
        scheduler.modify_job(f"{stream[0]}:{stream[1]}", next_run_time=clock.now())
    except Exception as exc:  # noqa: BLE001 - the next tick polls it anyway
        log.warning("could not advance poll", extra={"error": str(exc)})


def run_forever(app: App) -> None:
    """Blocks until `app.stop` is set (by a signal handler), then shuts down cleanly."""
    scheduler = build(app)
    scheduler.start()
    app.claim(on_taken=lambda stream: _poll_now(scheduler, stream))
    app.scheduler_running = True
    log.info("scheduler started", extra={"jobs": len(scheduler.get_jobs())})
    try:
        while not app.stop.wait(1.0):
            pass
    finally:
        log.info("shutting down, waiting for running polls")
        app.scheduler_running = False
        scheduler.shutdown(wait=True)
