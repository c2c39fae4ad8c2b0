"""`slack-connector run`: poll every source on schedule until SIGTERM or SIGINT."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from types import FrameType

from connector.cli.check import NO_DESTINATION
from connector.cli.output import say
from connector.config.settings import Settings
from connector.service import scheduler
from connector.service.app import App

log = logging.getLogger("connector")


def command(settings: Settings, args: argparse.Namespace) -> int:
    """The signal handlers go in before the app is built (state store, clients, leases),
    so a SIGTERM that arrives while it starts stops it cleanly instead of killing it."""
    stopping = threading.Event()
    built: list[App] = []

    def stop(signum: int, frame: FrameType | None) -> None:
        log.info("signal received, stopping", extra={"signal": signal.Signals(signum).name})
        stopping.set()
        for running in built:
            running.stop.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    app = App(settings)
    built.append(app)
    if stopping.is_set():
        app.stop.set()
    clean = True
    try:
        try:
            app.start_health()
        except OSError as exc:
            m = settings.metrics
            say(
                f"slack-connector: config error: metrics: cannot listen on {m.address}:{m.port} "
                f"({exc.strerror}); change [metrics] port or set enabled = false",
                sys.stderr,
            )
            return 2
        try:
            app.start_slash()
        except OSError as exc:
            c = settings.slash_command
            say(
                f"slack-connector: config error: slash_command: cannot listen on "
                f"{c.address}:{c.port} ({exc.strerror}); change [slash_command] port",
                sys.stderr,
            )
            return 2
        if not settings.alerts.destinations:
            log.warning(NO_DESTINATION)
        clean = scheduler.run_forever(app)
    finally:
        if clean:
            app.close(scheduler.CLOSE_MARGIN_SECONDS)
        else:
            app.abandon(scheduler.CLOSE_MARGIN_SECONDS)
    if not clean:
        logging.shutdown()
        os._exit(1)  # a poll thread stuck on the sink would block the interpreter's exit
    return 0
