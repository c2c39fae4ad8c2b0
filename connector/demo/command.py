"""`slack-connector demo`: the real daemon against the built-in simulator, then a summary.

Nothing here is demo-only except the Slack it talks to: settings go through
`config.parse`, polls through the real scheduler, runners, pipeline, state store and local
sink. What the newcomer sees is therefore what production does, and running the demo
twice in one directory shows the checkpoints at work (the second run continues).
"""

from __future__ import annotations

import gzip
import logging
import os
import shlex
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import orjson

from connector.config.errors import ConfigError
from connector.config.load import parse
from connector.config.settings import Settings
from connector.logtypes import REGISTRY
from connector.service import scheduler
from connector.service.app import App
from connector.service.runner import Outcome
from connector.state import StateError

from .simulator import SlackSimulator

TOKEN_ENV = "SLACK_CONNECTOR_DEMO_TOKEN"  # noqa: S105 - a variable name, not a token
SOURCE_ID = "demo"
LABEL = "Demo Enterprise Grid"
PREFIX = "slack"
LOG_TYPES = ("audit", "access", "integration")


@dataclass
class _Landed:
    """What one log type's folder holds: every object, and which appeared during this run."""

    events: int = 0
    objects: list[Path] = field(default_factory=list)
    bytes: int = 0
    new_events: int = 0
    new_objects: int = 0
    quarantined: int = 0


class _DemoApp(App):
    """The real App, plus one line per poll that wrote something, so events visibly land."""

    def __init__(self, settings: Settings, *, report: TextIO, started: float) -> None:
        super().__init__(settings)
        self._report = report
        self._started = started
        self._print = threading.Lock()
        self.succeeded: set[str] = set()

    def poll(self, source_id: str, log_type: str, *, force: bool = False) -> Outcome:
        outcome = super().poll(source_id, log_type, force=force)
        if outcome.ok:
            self.succeeded.add(log_type)
        elapsed = time.monotonic() - self._started
        result = outcome.result
        if outcome.ok and result is not None and result.written:
            line = f"+{_n(result.written, 'event')} in {_n(result.objects, 'object')}"
        elif not outcome.ok and outcome.state != "stopped":
            line = f"poll {outcome.state}: {outcome.detail}"
        else:
            return outcome
        with self._print:
            print(f"  {elapsed:5.1f}s  {log_type:<12} {line}", file=self._report, flush=True)
        return outcome


def run_demo(
    seconds: float = 60.0,
    out_dir: str | Path = "./demo-output",
    *,
    poll_interval: int = 5,
    stream: TextIO = sys.stdout,
) -> int:
    """Run the connector against the simulator for `seconds`, then summarise what landed.

    Returns 0 when every log type polled successfully at least once and has events in the
    output folder (landed now or by an earlier run into the same `out_dir`), else 1.
    """
    out = Path(out_dir)
    output = out / "output"
    before = set(output.rglob("*.json.gz")) if output.is_dir() else set()
    simulator = SlackSimulator().start()
    previous_token = os.environ.get(TOKEN_ENV)
    os.environ[TOKEN_ENV] = simulator.token
    quiet = _quiet_info_logs()
    started = time.monotonic()
    try:
        settings = parse(
            {
                "state": {"path": str(out / "state.db")},
                "output": {"type": "local", "path": str(output), "prefix": PREFIX},
                "metrics": {"enabled": False, "port": 0},
                "sources": [
                    {
                        "id": SOURCE_ID,
                        "label": LABEL,
                        "token_env": TOKEN_ENV,
                        "audit_api_url": simulator.audit_api_url,
                        "web_api_url": simulator.web_api_url,
                        "poll_interval_seconds": poll_interval,
                        # The simulator has no rate limits; Slack's real budgets would make
                        # a one-minute demo mostly waiting.
                        "audit_calls_per_minute": 600,
                        "web_calls_per_minute": 600,
                        "retry_backoff_seconds": 0.2,
                        "http_timeout_seconds": 10,
                    }
                ],
            }
        )
        _intro(stream, simulator, out, output, seconds, poll_interval)
        app = _DemoApp(settings, report=stream, started=started)
    except (ConfigError, StateError) as exc:
        print(f"slack-connector demo: cannot start: {exc}", file=stream)
        _restore(simulator, quiet, previous_token)
        return 1
    thread = threading.Thread(target=scheduler.run_forever, args=(app,), daemon=True)
    try:
        thread.start()
        app.stop.wait(seconds)
    except KeyboardInterrupt:
        print("\n  Ctrl-C: stopping early, letting running polls finish...", file=stream)
    finally:
        app.stop.set()
        thread.join()
        app.close()
        _restore(simulator, quiet, previous_token)
    landed = {lt: _scan(output, REGISTRY[lt].log_type, before) for lt in LOG_TYPES}
    _summary(stream, out, output, time.monotonic() - started, landed)
    ok = all(landed[lt].events and lt in app.succeeded for lt in LOG_TYPES)
    return 0 if ok else 1


def _n(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def _quiet_info_logs() -> list[tuple[logging.Logger, int]]:
    """The demo's own lines replace the daemon's INFO logs; warnings and errors still show.

    Only the CLI's default level is raised: someone who asked for DEBUG keeps it.
    """
    changed = []
    for name in ("connector", "apscheduler"):
        logger = logging.getLogger(name)
        if logger.getEffectiveLevel() == logging.INFO:
            changed.append((logger, logger.level))
            logger.setLevel(logging.WARNING)
    return changed


def _restore(
    simulator: SlackSimulator, quiet: list[tuple[logging.Logger, int]], token: str | None
) -> None:
    simulator.stop()
    for logger, level in quiet:
        logger.setLevel(level)
    if token is None:
        os.environ.pop(TOKEN_ENV, None)
    else:
        os.environ[TOKEN_ENV] = token


def _intro(
    stream: TextIO,
    simulator: SlackSimulator,
    out: Path,
    output: Path,
    seconds: float,
    poll_interval: int,
) -> None:
    print(
        f"""slack-connector demo

  A built-in Slack simulator is running at {simulator.base_url}, playing an Enterprise
  Grid org ("{LABEL}") with a day of history and a few new events every second:
  audit logs, access logs (team.accessLogs) and integration logs (team.integrationLogs).

  For the next {seconds:g} seconds the real connector polls it every {poll_interval} s,
  validates each record and writes gzip NDJSON under {output}/
  (checkpoints and dedupe state in {out / "state.db"}; run the demo again to continue).
  Press Ctrl-C to stop early.
""",
        file=stream,
        flush=True,
    )


def _scan(output: Path, folder: str, before: set[Path]) -> _Landed:
    """Count what is in the sink's folder for one log type; the files are the truth."""
    landed = _Landed()
    root = output / PREFIX / folder
    for path in sorted(root.rglob("*.json.gz")) if root.is_dir() else []:
        with gzip.open(path, "rb") as fh:
            lines = sum(1 for line in fh if line.strip())
        landed.objects.append(path)
        landed.events += lines
        landed.bytes += path.stat().st_size
        if path not in before:
            landed.new_objects += 1
            landed.new_events += lines
    quarantine = output / PREFIX / "_quarantine" / folder
    if quarantine.is_dir():
        landed.quarantined = sum(1 for _ in quarantine.rglob("*.json.gz"))
    return landed


def _summary(
    stream: TextIO, out: Path, output: Path, elapsed: float, landed: dict[str, _Landed]
) -> None:
    w = stream.write
    w(f"\nDone after {elapsed:.0f} s. Output directory: {output}/\n\n")
    w(f"  {'log type':<12} {'events':>8} {'objects':>8} {'size':>10}   this run\n")
    for name, got in landed.items():
        size = f"{got.bytes / 1024:,.1f} KB"
        run = f"+{_n(got.new_events, 'event')}, +{_n(got.new_objects, 'object')}"
        w(f"  {name:<12} {got.events:>8,} {len(got.objects):>8} {size:>10}   {run}\n")
        if got.quarantined:
            where = output / PREFIX / "_quarantine" / REGISTRY[name].log_type
            w(f"  {'':<12} {got.quarantined} object(s) quarantined under {where}\n")
    w("\n  Newest objects:\n")
    for name, got in landed.items():
        for path in got.objects[-2:]:
            w(f"    {path}\n")
        if not got.objects:
            w(f"    ({name}: nothing landed)\n")
    sample = next((got.objects[-1] for got in landed.values() if got.objects), None)
    if sample is not None:
        w(f"\n  Look at one record:  zcat {shlex.quote(str(sample))} | head -1\n")
        w(
            f"  Search what landed:  slack-connector search --path {shlex.quote(str(output))} "
            f"{shlex.quote(_an_indicator(sample))}\n"
        )
    w(
        f"  State (checkpoints, dedupe keys): {out / 'state.db'}; run the demo again and it"
        " continues from there.\n\n"
        "  Ready for a real workspace? Copy config.example.toml to config.toml, set the source\n"
        "  and output, export the token named in token_env, then:\n"
        "    slack-connector check --config config.toml\n"
    )
    stream.flush()


def _an_indicator(sample: Path) -> str:
    """An IP address or email from a landed record, for the search the summary suggests."""
    with gzip.open(sample, "rb") as fh:
        row = orjson.loads(fh.readline() or b"{}")
    for name in ("p_any_ip_addresses", "p_any_emails"):
        values = row.get(name) if isinstance(row, dict) else None
        if values:
            return str(values[0])
    return "text:login"
