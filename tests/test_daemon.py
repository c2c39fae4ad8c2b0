"""The daemon as operators run it: a subprocess that polls on schedule, answers probes,
and stops cleanly on SIGTERM without moving a checkpoint past what was written."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path

from tests.conftest import TOKEN, TOKEN_ENV, read_local
from tests.factories import audit, cli_source, config_file, now
from tests.fakes.slack_server import FakeSlack


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(predicate, timeout: float = 20.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_run_polls_serves_probes_and_stops_on_sigterm(slack: FakeSlack, tmp_path: Path) -> None:
    port = free_port()
    source = cli_source(slack, poll_interval_seconds=1, page_size=5)
    config = config_file(tmp_path, source, metrics={"port": port})
    t = now()
    slack.add_audit(audit(i, t - 30 + i % 10) for i in range(40))
    env = {**os.environ, TOKEN_ENV: TOKEN}
    proc = subprocess.Popen(
        [sys.executable, "-m", "connector.cli.main", "run", "--config", str(config)],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert wait_for(lambda: len(read_local(tmp_path / "out")) == 40), "first poll landed"

        def healthy() -> bool:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    return r.status == 200
            except OSError:
                return False

        assert wait_for(healthy)
        slack.add_audit(audit(100 + i, now()) for i in range(5))
        assert wait_for(lambda: len(read_local(tmp_path / "out")) == 45), "scheduled polls continue"
        slack.fail_next("logs", "slow", times=50, seconds=0.3)
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, err[-2000:]
    assert "signal received, stopping" in err
    assert TOKEN not in err

    slack.add_audit(audit(200 + i, now()) for i in range(3))
    done = subprocess.run(
        [sys.executable, "-m", "connector.cli.main", "once", "--config", str(config)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    ids = Counter(r["id"] for r in read_local(tmp_path / "out"))
    assert len(ids) == 48 and set(ids.values()) == {1}
