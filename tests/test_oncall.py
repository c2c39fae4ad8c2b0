"""On-call hardening: probes answer at once whatever the sink does, shutdown fits the grace,
stderr stays JSON, Slack's `needed` scope is named, quiet thresholds fit each log type,
skipped runs are a metric, and the daemon never imports the install flow."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry

from connector.config.errors import ConfigError
from connector.config.load import parse
from connector.config.settings import s3_worst_seconds
from connector.service.app import App
from connector.service.health import HealthServer
from connector.slack.client import SlackClient
from connector.slack.errors import SlackAuthError
from connector.slack.ratelimit import RateBudgets
from connector.state.sqlite import StateStore
from tests.conftest import TOKEN, TOKEN_ENV, source
from tests.factories import audit, cli_source, config_file, now
from tests.fakes.slack_server import FakeSlack

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def hung_endpoint() -> Iterator[str]:
    """Accepts connections and never answers: an S3 endpoint stuck behind a proxy."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join(2)
    for conn in held:
        conn.close()
    server.close()


def get(url: str, timeout: float = 2.0) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


# -- item 2: probes from kept state; shutdown inside the grace ------------------------------


def test_readyz_answers_at_once_and_says_503_while_s3_hangs(
    slack: FakeSlack, tmp_path: Path, hung_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    settings = parse(
        {
            "state": {"path": str(tmp_path / "state.db")},
            "output": {
                "type": "s3",
                "bucket": "b",
                "region": "us-east-1",
                "endpoint_url": hung_endpoint,
                "connect_timeout_seconds": 20,
                "read_timeout_seconds": 20,
                "max_attempts": 1,
            },
            "metrics": {"port": 0},
            "daemon": {"sink_check_timeout_seconds": 1, "sink_check_seconds": 1},
            "sources": [source(slack, log_types=["audit"])],
        }
    )
    app = App(settings)
    try:
        server = app.start_health()
        assert server is not None
        answers = []
        for _ in range(8):
            started = time.monotonic()
            answers.append(get(f"http://127.0.0.1:{server.port}/readyz"))
            # a probe that waited on the hung sink would wait out its 20 s timeouts
            assert time.monotonic() - started < 5.0, "a probe never waits on the sink"
            time.sleep(0.25)
    finally:
        app.close(1.0)
    assert all(status == 503 for status, _ in answers)
    assert answers[-1][1]["state"] is True
    assert "sink check has not answered" in answers[-1][1]["sink_error"]


def test_s3_timeouts_and_retries_must_fit_the_shutdown_grace(slack: FakeSlack) -> None:
    base = {
        "output": {"type": "s3", "bucket": "b", "read_timeout_seconds": 30, "max_attempts": 3},
        "sources": [source(slack)],
    }
    with pytest.raises(
        ConfigError, match=r"output\.read_timeout_seconds: .*shutdown_grace_seconds"
    ):
        parse(base)
    parse({**base, "daemon": {"shutdown_grace_seconds": 120}})
    default = parse({"output": {"type": "s3", "bucket": "b"}, "sources": [source(slack)]})
    worst = s3_worst_seconds(default.output)
    assert worst == 3 * (3 + 12) + 1 + 2, "3 attempts in all, and botocore's backoff"
    assert worst <= default.daemon.shutdown_grace_seconds < 60, "inside systemd's and k8s' 60 s"


@pytest.mark.slow
def test_sigterm_ends_within_the_grace_while_the_sink_never_answers(
    slack: FakeSlack, tmp_path: Path
) -> None:
    """stdout into a pipe nobody reads: the write blocks for ever once the pipe is full."""
    t = now()
    slack.add_audit(audit(i, t - 60 + i % 50, extra="x" * 400) for i in range(2000))
    config = config_file(
        tmp_path,
        cli_source(slack),
        output={"type": "stdout"},
        metrics={"enabled": False},
        daemon={"shutdown_grace_seconds": 6},
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "connector.cli.main", "run", "--config", str(config)],
        env={**os.environ, TOKEN_ENV: TOKEN},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while slack.count("logs") == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(2.0)  # the first batch is being written into the full pipe
        proc.send_signal(signal.SIGTERM)
        started = time.monotonic()
        proc.wait(timeout=30)
        took = time.monotonic() - started
        err = proc.stderr.read().decode() if proc.stderr else ""
    finally:
        proc.kill()
    assert took < 6 + 5, f"shutdown took {took:.1f}s (grace 6 s, 5 s for a loaded machine)"
    assert proc.returncode == 1
    assert "polls still running at the end of the shutdown grace" in err
    assert all(json.loads(line) for line in err.splitlines()), "stderr stays JSON lines"
    store = StateStore(tmp_path / "state.db", read_only=True)
    try:
        assert store.checkpoint("acme", "audit") is None, "nothing was committed past the sink"
        assert store.count_seen("acme", "audit") == 0
    finally:
        store.close()


# -- item 3: an abandoned probe connection prints no traceback ------------------------------


def test_abandoned_probe_connections_print_no_traceback(capfd: pytest.CaptureFixture[str]) -> None:
    registry = CollectorRegistry()
    server = HealthServer("127.0.0.1", 0, registry, lambda: (True, {}), lambda: (True, {})).start()
    try:
        for _ in range(40):
            with socket.create_connection(("127.0.0.1", server.port)) as conn:
                conn.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        time.sleep(0.5)
        assert get(f"http://127.0.0.1:{server.port}/healthz")[0] == 200
    finally:
        server.stop()
    err = capfd.readouterr().err
    # What socketserver prints for an error in a handler, traceback and all:
    assert "Exception occurred during processing of request" not in err
    assert "BrokenPipeError" not in err and "ConnectionResetError" not in err


def test_thread_crashes_and_warnings_reach_stderr_as_json_lines() -> None:
    code = (
        "import threading, warnings; from connector import logs; logs.setup(); "
        "t = threading.Thread(target=lambda: 1 / 0, name='worker'); t.start(); t.join(); "
        "warnings.warn('something is deprecated', DeprecationWarning, stacklevel=1); "
        "raise RuntimeError('at the top')"
    )
    proc = subprocess.run(
        [sys.executable, "-W", "always", "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    lines = [json.loads(line) for line in proc.stderr.splitlines()]
    assert lines[0]["message"] == "uncaught exception in thread"
    assert lines[0]["thread_name"] == "worker" and "ZeroDivisionError" in lines[0]["exception"]
    assert any("something is deprecated" in line["message"] for line in lines)
    assert "RuntimeError: at the top" in lines[-1]["exception"]


# -- item 9: the missing scope is named ----------------------------------------------------


class _MissingScope(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps(
            {
                "ok": False,
                "error": "missing_scope",
                "needed": "admin",
                "provided": "identify,users:read",
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return None


def test_missing_scope_errors_name_the_scope_slack_asked_for() -> None:
    from pydantic import SecretStr

    server = ThreadingHTTPServer(("127.0.0.1", 0), _MissingScope)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/api/"
    try:
        with httpx.Client() as http:
            client = SlackClient(
                "acme",
                SecretStr(TOKEN),
                audit_api_url=url,
                web_api_url=url,
                http=http,
                budgets=RateBudgets(),
                sleep=lambda _: None,
            )
            with pytest.raises(SlackAuthError) as err:
                client.web("team.accessLogs", {})
    finally:
        server.shutdown()
        server.server_close()
    assert err.value.code == "missing_scope"
    assert "needed scope 'admin'" in str(err.value)


# -- item 10: no-events thresholds per log type --------------------------------------------


def test_no_events_threshold_defaults_per_log_type(slack: FakeSlack, tmp_path: Path) -> None:
    def thresholds(alerts: dict[str, Any], **src: Any) -> dict[str, int]:
        settings = parse(
            {
                "state": {"path": str(tmp_path / f"{len(alerts)}{len(src)}.db")},
                "output": {"type": "local", "path": str(tmp_path / "out")},
                "alerts": alerts,
                "sources": [source(slack, **src)],
            }
        )
        app = App(settings)
        try:
            return {
                lt: app.thresholds("acme", lt).no_events_after_seconds
                for lt in ("audit", "access", "integration")
            }
        finally:
            app.close()

    assert thresholds({}) == {"audit": 86_400, "access": 3 * 86_400, "integration": 7 * 86_400}
    assert thresholds({"no_events_after_seconds": 3600}) == dict.fromkeys(
        ("audit", "access", "integration"), 3600
    )
    assert thresholds(
        {"no_events_after_seconds": {"access": 60}}, no_events_after_seconds={"audit": 0}
    ) == {"audit": 0, "access": 60, "integration": 7 * 86_400}
    with pytest.raises(
        ConfigError, match=r"alerts\.no_events_after_seconds: unknown log type 'files'"
    ):
        parse({"alerts": {"no_events_after_seconds": {"files": 1}}, "sources": [source(slack)]})


# -- item 11: skipped runs are a metric, not a warning each --------------------------------


def test_skipped_runs_are_counted_not_logged(
    slack: FakeSlack, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from connector.service import scheduler

    slack.on_request = lambda method, params: time.sleep(2.5)
    settings = parse(
        {
            "state": {"path": str(tmp_path / "state.db")},
            "output": {"type": "local", "path": str(tmp_path / "out")},
            "metrics": {"enabled": False},
            "sources": [source(slack, log_types=["audit"], poll_interval_seconds=1)],
        }
    )
    app = App(settings)
    caplog.set_level(logging.WARNING, logger="apscheduler")
    sched = scheduler.build(app)
    try:
        sched.start()
        time.sleep(4.5)
    finally:
        sched.shutdown(wait=False)
        slack.on_request = None
        app.stop.set()
        app.in_flight.wait_idle(10)
        app.close(1.0)
    skipped = app.metrics.skipped.labels("acme", "audit")._value.get()
    assert skipped >= 1
    assert not [
        r for r in caplog.records if "maximum number of running instances" in r.getMessage()
    ]


# -- item 18: the daemon does not import the install flow; one helper per concern ----------


def test_the_daemon_does_not_import_the_install_flow() -> None:
    code = (
        "import sys, connector.service.app, connector.service.scheduler, connector.credentials.rotation, connector.credentials.provider; "
        "print(sorted(m for m in sys.modules if m.startswith('connector.oauth')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stdout.strip() == "[]"


def test_scopes_and_install_rules_come_from_the_log_type_classes() -> None:
    from connector import oauth
    from connector.logtypes import REGISTRY

    assert oauth.SCOPES == {name: list(cls.scopes) for name, cls in REGISTRY.items()}
    assert oauth.user_scopes(["access", "integration"]) == ["admin"]
    assert [n for n, cls in REGISTRY.items() if cls.enterprise_install] == ["audit"]


def test_file_locks_atomic_writes_and_code_sanitizing_live_in_one_place() -> None:
    def users(needle: str) -> list[str]:
        return sorted(
            str(p.relative_to(ROOT))
            for p in (ROOT / "connector").rglob("*.py")
            if needle in p.read_text()
        )

    assert users("fcntl.flock(") == ["connector/fsutil.py"]
    assert users("os.replace(") == ["connector/fsutil.py"]
    assert users('re.sub(r"[^A-Za-z0-9') == ["connector/slack/errors.py"]
    for path in (ROOT / "connector").rglob("*.py"):
        assert len(path.read_text().splitlines()) < 520, path
