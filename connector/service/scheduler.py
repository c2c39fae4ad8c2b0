"""The daemon loop: APScheduler, one interval job per source and log type.

`max_instances=1` keeps a slow poll from overlapping itself; `coalesce` turns a backlog of
missed runs into one; a little jitter keeps many sources from hitting Slack in the same
second. Shutdown waits for running polls, which stop between pages and keep every
checkpoint at or behind what was written.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from apscheduler.events import EVENT_JOB_MAX_INSTANCES, JobSubmissionEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from connector import clock
from connector.service.app import App

log = logging.getLogger(__name__)
CATALOG_CHECK_SECONDS = 3600
"""How often the daemon asks whether Slack's action lists are due (they are read daily)."""
CLOSE_MARGIN_SECONDS = 5.0
"""Of the shutdown grace, what is kept for closing the state store, sink and alerts."""


class _NoSkipWarnings(logging.Filter):
    """APScheduler warns once per skipped run ("maximum number of running instances
    reached"): dozens a minute when a shared rate budget slows polls down. Skips are
    counted in `slack_connector_polls_skipped` instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "maximum number of running instances reached" not in str(record.msg)


_SKIP_FILTER = _NoSkipWarnings()


def build(app: App) -> BackgroundScheduler:
    jobs = list(app.jobs())
    scheduler = BackgroundScheduler(
        timezone="UTC",
        executors={"default": ThreadPoolExecutor(max_workers=max(1, min(32, len(jobs))) + 1)},
        job_defaults={"max_instances": 1, "coalesce": True, "misfire_grace_time": None},
    )
    logging.getLogger("apscheduler.scheduler").addFilter(_SKIP_FILTER)

    def skipped(event: JobSubmissionEvent) -> None:
        if event.job_id == "detections:catalog":
            return
        source_id, _, log_type = str(event.job_id).partition(":")
        app.metrics.skipped.labels(source_id, log_type).inc()

    scheduler.add_listener(skipped, EVENT_JOB_MAX_INSTANCES)
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
    scheduler.add_job(
        app.refresh_catalog,
        IntervalTrigger(seconds=CATALOG_CHECK_SECONDS),
        id="detections:catalog",
        name="Slack's audit action lists",
        next_run_time=start,
    )
    return scheduler


def _poll_now(scheduler: BackgroundScheduler, stream: tuple[str, str]) -> None:
    """A lease just taken is polled now, not at its job's next tick: failover time."""
    try:
        scheduler.modify_job(f"{stream[0]}:{stream[1]}", next_run_time=clock.now())
    except Exception as exc:  # noqa: BLE001 - the next tick polls it anyway
        log.warning("could not advance poll", extra={"error": str(exc)})


def run_forever(app: App) -> bool:
    """Blocks until `app.stop` is set (by a signal handler), then shuts down.

    Running polls stop between pages and commit; they get `shutdown_grace_seconds` minus a
    margin for closing. A poll still stuck after that (a sink that never answers) is left
    behind: its batch was never committed, so the next start writes it again (the same
    object key) and nothing is lost. Returns False when a poll was left behind, and the
    caller must then end the process without waiting for that thread.
    """
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
        scheduler.shutdown(wait=False)
    grace = app.settings.daemon.shutdown_grace_seconds
    if app.in_flight.wait_idle(max(0.0, grace - CLOSE_MARGIN_SECONDS)):
        return True
    log.error(
        "polls still running at the end of the shutdown grace; exiting without them "
        "(their batches were not committed and are written again on the next start)",
        extra={"grace_seconds": grace},
    )
    return False
