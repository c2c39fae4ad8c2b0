"""Crash harness: run the real daemon, SIGKILL it again and again, then audit S3 against Slack.

The daemon (`python -m connector.cli.main run`) runs as a child process against the fake Slack
server and a real S3 API (moto's server mode), both served from this process on 127.0.0.1.
A feeder thread keeps Slack live: audit events (same-second bursts, some indexed up to
`max_late` seconds late), access aggregates that keep changing plus new combinations, and
new integration records. The child is killed with SIGKILL at instants chosen by a seeded
plan:

* ``random``             - any moment after start;
* ``audit_page``         - as the audit API is asked for a second or later page (cursor);
* ``slow_page``          - a later page (any API) is made slow and the kill lands around it,
                           sometimes after it, so the poll goes on while the feed moves;
* ``access_page``        - as team.accessLogs is asked for a later page (page 2+, or a
                           `before` moved back by keyset paging);
* ``integration_page``   - as team.integrationLogs is asked for page 2 or later;
* ``poll_error``         - a later page fails (5xx until retries run out), the poll flushes
                           what it has, and the kill follows shortly after;
* ``s3_put_before``      - a PutObject reaches S3's door and is dropped: the upload died;
* ``s3_put_after``       - a PutObject is stored, then the child dies before it hears the
                           answer: between the upload and the checkpoint commit;
* ``s3_head``            - during the crash recovery's HeadObject (follows an s3_put kill);
* ``sigterm``            - SIGTERM at any moment: the daemon must stop within `term_timeout`
                           (else it hung) and exit 0, flushing what it fetched;
* ``sigterm_slow_page``  - SIGTERM while a later page is slow (shutdown mid-pagination).

S3 kills go through `S3Proxy`, a small HTTP relay in front of moto. Slack kills use the fake
server's `on_request` hook. A trigger that never fires within `trigger_timeout` falls back
to a kill at that moment (reported as ``<mode>:timeout``).

After the last kill the feed stops, `slack-connector once` runs until a pass writes nothing
new, and S3 is compared with the ground truth the feeder recorded: every audit `id`, every
access (user_id, ip, user_agent) and every integration record (the whole record) exactly once.

Event dates stay inside the connector's limits: first-run data within
`first_run_lookback_seconds`, and everything added later at most `max_late` seconds in the
past, below `late_event_overlap_seconds` (an event that shows up later than the overlap is
outside what the connector promises to catch).
"""

from __future__ import annotations

import contextlib
import gzip
import http.client
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import orjson

from tests.chaos.ocsf_lake import ocsf_section, tally_lake
from tests.factories import access, audit, integration
from tests.fakes.moto_server import AWS_ENV
from tests.fakes.slack_server import FakeSlack

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "xoxp-chaos-token"
TOKEN_ENV = "CHAOS_SLACK_TOKEN"
SOURCE_ID = "chaos"
PREFIX = "slack"
LOG_TYPES = ("audit", "access", "integration")
FOLDERS = {
    "audit": "Slack.AuditLogs",
    "access": "Slack.AccessLogs",
    "integration": "Slack.IntegrationLogs",
}

# Kill plans. A unit is a list of modes run back to back (a HeadObject only happens in
# the recovery that follows a kill around a PutObject).
UNITS: list[list[str]] = [
    ["random"],
    ["audit_page"],
    ["slow_page"],
    ["access_page"],
    ["integration_page"],
    ["poll_error"],
    ["s3_put_before", "s3_head"],
    ["s3_put_after", "s3_head"],
    ["s3_put_after"],
    ["sigterm"],
    ["sigterm_slow_page"],
]
MODES = sorted({m for unit in UNITS for m in unit})
PAGE_EVENTS = ("audit_page", "access_page", "integration_page")
SLACK_METHOD = {
    "audit_page": "logs",
    "access_page": "team.accessLogs",
    "integration_page": "team.integrationLogs",
}


def plan(rng: random.Random, kills: int, modes: list[str] | None = None) -> list[str]:
    """The kill modes in order: `modes` cycled if given, else shuffled rounds of UNITS."""
    if modes:
        return [modes[i % len(modes)] for i in range(kills)]
    out: list[str] = []
    while len(out) < kills:
        units = list(UNITS)
        rng.shuffle(units)
        for unit in units:
            out.extend(unit)
    return out[:kills]


# --------------------------------------------------------------------------- ground truth
class Truth:
    """What Slack holds, recorded by whoever adds it (thread-safe)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.audit_ids: set[str] = set()
        self.access: set[tuple[str, str, str]] = set()
        self.access_list: list[tuple[str, str, str]] = []
        self.integration: set[bytes] = set()

    def identities(self) -> dict[str, set[Any]]:
        with self.lock:
            return {
                "audit": set(self.audit_ids),
                "access": set(self.access),
                "integration": set(self.integration),
            }


def integration_identity(row: dict[str, Any]) -> bytes:
    """A whole integration record, standard `p_*` fields left out, as canonical JSON."""
    raw = {k: v for k, v in row.items() if not k.startswith("p_")}
    return orjson.dumps(raw, option=orjson.OPT_SORT_KEYS)


def identity(log_type: str, row: dict[str, Any]) -> Any:
    if log_type == "audit":
        return row.get("id")
    if log_type == "access":
        return (row.get("user_id"), row.get("ip"), row.get("user_agent"))
    return integration_identity(row)


class Feeder:
    """Keeps Slack live: new audit events, access touches and combinations, integrations."""

    USER_AGENTS = ("Slack/4.41 (Mac)", "Mozilla/5.0 (X11; Linux)", "Slack/iOS 24.10")
    ACTIONS = ("user_login", "user_logout", "file_downloaded", "channel_created", "app_installed")

    def __init__(
        self,
        slack: FakeSlack,
        truth: Truth,
        rng: random.Random,
        *,
        interval: float = 0.4,
        max_late: int = 120,
    ) -> None:
        self.slack = slack
        self.truth = truth
        self.rng = rng
        self.interval = interval
        self.max_late = max_late
        self._audit_n = 0
        self._ip_n = 0
        self._integration_n = 0
        self._stop = threading.Event()
        self._tick_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None

    # ---- building blocks, also used for the data that exists before the first run
    def add_audit(self, ts: int, n: int) -> None:
        events = []
        for _ in range(n):
            self._audit_n += 1
            events.append(audit(self._audit_n, ts, action=self.rng.choice(self.ACTIONS)))
        with self.truth.lock:
            self.slack.add_audit(events)
            self.truth.audit_ids.update(e["id"] for e in events)

    def new_combo(self, now: int, first: int | None = None) -> None:
        self._ip_n += 1
        user = f"U{self.rng.randrange(40):04d}"
        ip = f"198.51.{self._ip_n // 250}.{self._ip_n % 250}"
        ua = self.rng.choice(self.USER_AGENTS)
        with self.truth.lock:
            if first is None and self.rng.random() < 0.5:
                self.slack.touch_access(user, ip, ua, now)  # a login from somewhere new
            else:
                first = first if first is not None else now - self.rng.randint(0, self.max_late)
                last = first + self.rng.randint(0, max(0, now - first))
                self.slack.add_access([access(user, ip, ua, first, last)])
            self.truth.access.add((user, ip, ua))
            self.truth.access_list.append((user, ip, ua))

    def touch(self, now: int) -> None:
        with self.truth.lock:
            if self.truth.access_list:
                user, ip, ua = self.rng.choice(self.truth.access_list)
                self.slack.touch_access(user, ip, ua, now)

    def add_integration(self, ts: int) -> None:
        self._integration_n += 1
        change = self.rng.choice(("added", "removed", "expanded", "updated"))
        row = integration(self._integration_n, ts, change)
        if self.rng.random() < 0.2:
            row["reason"] = "user_requested"
        with self.truth.lock:
            self.slack.add_integration([row])
            self.truth.integration.add(integration_identity(row))

    def seed(self, now: int) -> None:
        """History for the first run: within the lookback, one same-second burst > a page."""
        for _ in range(60):
            self.add_audit(now - self.rng.randint(0, 1800), 1)
        self.add_audit(now - 100, 35)
        self.add_audit(now - 2, 12)
        for _ in range(60):
            self.new_combo(now, first=now - self.rng.randint(0, 3000))
        for _ in range(45):
            self.add_integration(now - self.rng.randint(0, 1800))
        for _ in range(25):
            self.add_integration(now - self.rng.randint(0, 250))

    # ---- the live feed
    def tick(self) -> None:
        with self._tick_lock:
            if not self._stop.is_set():
                self._tick()

    def storm(self, ticks: int, spacing: float) -> None:
        """Extra feed while a poll pages (from another thread), so rows move under it."""

        def run() -> None:
            for _ in range(ticks):
                if self._stop.wait(spacing):
                    return
                try:
                    self.tick()
                except BaseException as exc:
                    self.error = exc

        threading.Thread(target=run, name="chaos-storm", daemon=True).start()

    def _tick(self) -> None:
        rng, now = self.rng, int(time.time())
        if rng.random() < 0.5:
            late = rng.choice((0, 0, 0, 1, 2, rng.randint(0, self.max_late)))
            self.add_audit(now - late, rng.choice((1, 1, 2, 3, 5, 8, 13)))
        for _ in range(rng.randint(0, 3)):
            self.touch(now)
        if rng.random() < 0.4:
            self.new_combo(now)
        if rng.random() < 0.35:
            self.add_integration(now - rng.choice((0, 0, 1, rng.randint(0, self.max_late))))

    def _run(self) -> None:
        try:
            while not self._stop.wait(self.interval * self.rng.uniform(0.5, 1.5)):
                self.tick()
        except BaseException as exc:  # surfaced by stop()
            self.error = exc

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="chaos-feeder", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        with self._tick_lock:  # no tick runs after this, from any thread
            pass
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self.error is not None:
            raise RuntimeError(f"feeder crashed: {self.error!r}") from self.error


# --------------------------------------------------------------------------- killing
@dataclass
class Trigger:
    mode: str
    event: str  # "audit_page", "access_page", "integration_page", "s3_put", "s3_head"
    nth: int  # fire on the nth matching event


class Killer:
    """Holds the current child and the armed trigger; kills (or terminates) from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._trigger: Trigger | None = None
        self.fired = threading.Event()
        self.how = ""
        self.sig = signal.SIGKILL
        self._life = 0  # which child a delayed kill was meant for

    def arm(self, proc: subprocess.Popen[bytes], trigger: Trigger | None) -> None:
        with self._lock:
            self._proc, self._trigger, self.how = proc, trigger, ""
            self.sig = signal.SIGKILL
            self._life += 1
            self.fired.clear()

    def disarm(self) -> None:
        with self._lock:
            self._trigger = None

    def match(self, event: str) -> Trigger | None:
        """The trigger, if this event fires it (once)."""
        with self._lock:
            trigger = self._trigger
            if trigger is None or trigger.event != event:
                return None
            trigger.nth -= 1
            if trigger.nth > 0:
                return None
            self._trigger = None
            return trigger

    def kill(self, how: str, life: int | None = None) -> None:
        """SIGKILL, or SIGTERM for the ``sigterm*`` modes (a graceful stop that must be quick)."""
        with self._lock:
            if life is not None and life != self._life:
                return  # that child is gone already
            proc = self._proc
            if proc is not None and proc.poll() is None and not self.fired.is_set():
                sig = signal.SIGTERM if how.startswith("sigterm") else signal.SIGKILL
                os.kill(proc.pid, sig)
                self.how, self.sig = how, sig
            self.fired.set()

    def kill_later(self, delay: float, how: str) -> None:
        with self._lock:
            life = self._life
        timer = threading.Timer(delay, self.kill, args=(how, life))
        timer.daemon = True
        timer.start()


def _read_body(handler: BaseHTTPRequestHandler) -> bytes | None:
    """The request body, or None when the client died before sending all of it: S3 never
    stores a truncated upload, so neither may the relay."""
    if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
        chunks = []
        while True:
            line = handler.rfile.readline()
            if not line:
                return None
            size = int(line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while handler.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            chunk = handler.rfile.read(size)
            if len(chunk) < size:
                return None
            chunks.append(chunk)
            handler.rfile.readline()
    length = int(handler.headers.get("Content-Length") or 0)
    body = handler.rfile.read(length) if length else b""
    return body if len(body) == length else None


_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "expect", "te"}


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _ProxyServer

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def _relay(self) -> None:
        proxy = self.server.proxy
        body = _read_body(self)
        if body is None:
            self.close_connection = True
            return
        event = {"PUT": "s3_put", "HEAD": "s3_head"}.get(self.command)
        trigger = proxy.killer.match(event) if event else None
        if trigger is not None and trigger.mode != "s3_put_after":
            proxy.killer.kill(trigger.mode)  # the request never reaches S3
            self.close_connection = True
            return
        with proxy.inflight():
            upstream = http.client.HTTPConnection(proxy.host, proxy.port, timeout=60)
            try:
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
                if body or self.command in ("PUT", "POST"):
                    headers["Content-Length"] = str(len(body))
                upstream.request(self.command, self.path, body=body or None, headers=headers)
                resp = upstream.getresponse()
                data = resp.read()
                status, resp_headers = resp.status, resp.getheaders()
            finally:
                upstream.close()
        if trigger is not None:
            proxy.stored_then_killed += 1
            proxy.killer.kill(trigger.mode)  # stored in S3; the child never hears back
            self.close_connection = True
            return
        self.send_response_only(status)
        for name, value in resp_headers:
            low = name.lower()
            if low in _HOP or (low == "content-length" and self.command != "HEAD"):
                continue
            self.send_header(name, value)
        if self.command != "HEAD":
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_PUT = do_HEAD = do_POST = do_DELETE = _relay


class _ProxyServer(ThreadingHTTPServer):
    daemon_threads = True
    proxy: S3Proxy

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A killed child resets its connections; that is the point, not an error."""


class S3Proxy:
    """An HTTP relay in front of the S3 API that can kill the child around a request."""

    def __init__(self, upstream: str, killer: Killer) -> None:
        url = urlsplit(upstream)
        self.host, self.port = url.hostname or "127.0.0.1", url.port or 80
        self.killer = killer
        self.stored_then_killed = 0
        self._busy = 0
        self._cond = threading.Condition()
        self._server = _ProxyServer(("127.0.0.1", 0), _ProxyHandler)
        self._server.proxy = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> S3Proxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    @contextlib.contextmanager
    def inflight(self) -> Iterator[None]:
        with self._cond:
            self._busy += 1
        try:
            yield
        finally:
            with self._cond:
                self._busy -= 1
                self._cond.notify_all()

    def wait_idle(self, timeout: float = 30.0) -> None:
        """Requests of a dead child that already reached S3 finish before the next child."""
        with self._cond:
            self._cond.wait_for(lambda: self._busy == 0, timeout)


# --------------------------------------------------------------------------- results
@dataclass
class Counts:
    log_type: str
    expected: int
    landed: int  # rows in S3
    missing: int  # expected identities with no row
    duplicated: int  # rows beyond the first per identity
    unexpected: int  # rows whose identity Slack never held
    missing_examples: list[Any] = field(default_factory=list)
    duplicated_examples: list[Any] = field(default_factory=list)


@dataclass
class ChaosResult:
    seed: int
    counts: list[Counts]
    kills: Counter[str]
    quarantined: int
    anomalies: list[str]
    workdir: Path
    catchup_passes: int
    elapsed: float
    knobs: dict[str, Any] = field(default_factory=dict)
    stored_then_killed: int = 0  # PutObjects that landed in S3 after which the child died
    modes: list[str] | None = None
    options: str = ""  # other non-default options, for the reproduce line
    ocsf: dict[str, int] | None = None  # the OCSF lake's tally (`ocsf_lake.tally_lake`)

    @property
    def ok(self) -> bool:
        lake = self.ocsf or {}
        return (
            all(c.missing == 0 and c.duplicated == 0 and c.unexpected == 0 for c in self.counts)
            and self.quarantined == 0
            and not self.anomalies
            and not (lake.get("missing") or lake.get("duplicated") or lake.get("unexpected"))
        )

    def table(self) -> str:
        head = f"{'log type':<12}{'expected':>10}{'landed':>10}{'missing':>10}{'duplicated':>12}{'unexpected':>12}"
        lines = [head, "-" * len(head)]
        for c in self.counts:
            lines.append(
                f"{c.log_type:<12}{c.expected:>10}{c.landed:>10}{c.missing:>10}"
                f"{c.duplicated:>12}{c.unexpected:>12}"
            )
        return "\n".join(lines)

    def report(self) -> str:
        kills = ", ".join(f"{k}={v}" for k, v in sorted(self.kills.items()))
        out = [
            f"chaos seed={self.seed} kills={sum(self.kills.values())} "
            f"elapsed={self.elapsed:.1f}s catch-up passes={self.catchup_passes} "
            f"workdir={self.workdir}",
            f"kills by mode: {kills}",
            self.table(),
            f"quarantined rows: {self.quarantined}; uploads stored, then the child killed "
            f"before the commit: {self.stored_then_killed}",
        ]
        if self.ocsf is not None:
            out.append("OCSF lake: " + ", ".join(f"{k} {v}" for k, v in self.ocsf.items()))
        for c in self.counts:
            if c.missing_examples:
                out.append(f"{c.log_type} missing e.g. {c.missing_examples}")
            if c.duplicated_examples:
                out.append(f"{c.log_type} duplicated e.g. {c.duplicated_examples}")
        out.extend(f"anomaly: {a}" for a in self.anomalies)
        knobs = "".join(f" --knob {k}='{orjson.dumps(v).decode()}'" for k, v in self.knobs.items())
        modes = f" --modes {','.join(self.modes)}" if self.modes else ""
        out.append(
            f"reproduce: python -m tests.chaos.crash_run --seed {self.seed} "
            f"--kills {sum(self.kills.values())}{modes}{knobs}{self.options} "
            "(thread timing varies, so a replay follows the same plan, not the same instants)"
        )
        return "\n".join(out)


# --------------------------------------------------------------------------- the run
def write_config(
    path: Path,
    *,
    state: Path,
    bucket: str,
    endpoint: str,
    slack: FakeSlack,
    page_size: int,
    batch_max_events: int,
    late_overlap: int,
    ocsf: bool = False,
) -> None:
    path.write_text(
        f"""
[state]
path = "{state}"
"""
        + output_section(bucket, endpoint, batch_max_events)
        + (ocsf_section(bucket, endpoint) if ocsf else "")
        + source_section(SOURCE_ID, slack, 1, page_size, late_overlap)
        + _free_port_sections(),
        encoding="utf-8",
    )


def output_section(bucket: str, endpoint: str, batch_max_events: int) -> str:
    return f"""
[output]
type = "s3"
bucket = "{bucket}"
endpoint_url = "{endpoint}"
region = "us-east-1"
prefix = "{PREFIX}"
batch_max_events = {batch_max_events}
"""


def source_section(
    source_id: str, slack: FakeSlack, poll_interval: int, page_size: int, late_overlap: int
) -> str:
    """A `[[sources]]` table on the fake Slack, tuned for fast crash tests."""
    return f"""
[[sources]]
id = "{source_id}"
token_env = "{TOKEN_ENV}"
log_types = ["audit", "access", "integration"]
audit_api_url = "{slack.audit_api_url}"
web_api_url = "{slack.web_api_url}"
poll_interval_seconds = {poll_interval}
first_run_lookback_seconds = 3600
late_event_overlap_seconds = {late_overlap}
page_size = {page_size}
retry_attempts = 3
retry_backoff_seconds = 0.05
audit_calls_per_minute = 100000
web_calls_per_minute = 100000
http_timeout_seconds = 5
"""


def _free_port_sections() -> str:
    """Listeners the daemon may open (health, metrics) on a free port, not a fixed one that
    another process on this machine could hold. Only sections this version knows."""
    from connector.config.settings import Settings

    out = ""
    for name, info in Settings.model_fields.items():
        model = info.annotation
        fields = getattr(model, "model_fields", {})
        if "port" in fields:
            out += f"\n[{name}]\nport = 0\n"
    return out


def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SLACK_CONNECTOR__"))}
    env.update(AWS_ENV)
    env[TOKEN_ENV] = TOKEN
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    return env


def read_bucket(client: Any, bucket: str) -> dict[str, list[dict[str, Any]]]:
    """The landed gzip NDJSON objects (not the search index beside them, under `_index/`)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=PREFIX):
        for item in page.get("Contents", []):
            if not item["Key"].endswith(".json.gz"):
                continue
            body = client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
            out[item["Key"]] = [orjson.loads(x) for x in gzip.decompress(body).splitlines()]
    return out


def tally(truth: Truth, objects: dict[str, list[dict[str, Any]]]) -> tuple[list[Counts], int]:
    expected = truth.identities()
    quarantined = 0
    landed: dict[str, Counter[Any]] = {lt: Counter() for lt in LOG_TYPES}
    for key, rows in objects.items():
        if key.startswith(f"{PREFIX}/_quarantine/"):
            quarantined += len(rows)
            continue
        for lt, folder in FOLDERS.items():
            if key.startswith(f"{PREFIX}/{folder}/"):
                landed[lt].update(identity(lt, row) for row in rows)
    counts = []
    for lt in LOG_TYPES:
        got, want = landed[lt], expected[lt]
        missing = sorted(want - set(got), key=repr)
        dups = sorted((k for k, n in got.items() if n > 1), key=repr)
        counts.append(
            Counts(
                log_type=lt,
                expected=len(want),
                landed=sum(got.values()),
                missing=len(missing),
                duplicated=sum(got[k] - 1 for k in dups),
                unexpected=sum(n for k, n in got.items() if k not in want),
                missing_examples=[_short(m) for m in missing[:5]],
                duplicated_examples=[_short(d) for d in dups[:5]],
            )
        )
    return counts, quarantined


def _short(value: Any) -> Any:
    return value.decode()[:160] if isinstance(value, bytes) else value


_ONCE_LINE = re.compile(r"^(\S+) (\w+): (\w+)(?: written=(\d+) .*objects=(\d+))?")


def run_chaos(
    workdir: Path,
    s3_endpoint: str,
    *,
    kills: int = 20,
    seed: int | None = None,
    min_run: float = 0.4,
    max_run: float = 4.0,
    trigger_timeout: float = 6.0,
    modes: list[str] | None = None,
    page_size: int = 20,
    audit_max_page: int | None = 10,
    knobs: dict[str, Any] | None = None,
    batch_max_events: int = 40,
    feed_interval: float = 0.4,
    max_late: int = 120,
    late_overlap: int = 300,
    term_timeout: float = 15.0,
    log: Callable[[str], None] = print,
    ocsf: bool = False,
) -> ChaosResult:
    """Kill the daemon `kills` times, catch up, and count what landed against the truth.

    A small `late_overlap` (with `max_late` below it) makes each poll's horizon tight, so a
    record a poll skips is far more likely to fall behind the next horizon and be lost.
    """
    if max_late >= late_overlap:
        raise ValueError("max_late must stay below late_overlap: later events are out of scope")
    seed = seed if seed is not None else random.SystemRandom().randrange(2**31)
    log(f"chaos seed={seed} (rerun with --seed {seed}) fake Slack knobs={knobs or {}}")
    rng = random.Random(seed)
    started = time.monotonic()
    workdir.mkdir(parents=True, exist_ok=True)
    for key, value in AWS_ENV.items():
        os.environ.setdefault(key, value)
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    bucket = f"chaos-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)

    truth = Truth()
    killer = Killer()
    anomalies: list[str] = []
    tally_kills: Counter[str] = Counter()
    slack = FakeSlack(tokens=(TOKEN,), seed=seed).start()
    slack.audit_max_page = audit_max_page
    for name, value in (knobs or {}).items():
        if not hasattr(slack, name):
            raise ValueError(f"FakeSlack has no knob {name!r}")
        setattr(slack, name, value)
    _quiet(slack)
    proxy = S3Proxy(s3_endpoint, killer).start()
    feeder = Feeder(
        slack, truth, random.Random(seed + 1), interval=feed_interval, max_late=max_late
    )
    config = workdir / "config.toml"
    write_config(
        config,
        state=workdir / "state.db",
        bucket=bucket,
        endpoint=proxy.url,
        slack=slack,
        page_size=page_size,
        batch_max_events=batch_max_events,
        late_overlap=late_overlap,
        ocsf=ocsf,
    )
    env = child_env()
    proc: subprocess.Popen[bytes] | None = None

    def on_slack_request(method: str, params: dict[str, str]) -> None:
        later = bool(params.get("cursor")) or params.get("page", "1") not in ("", "1")
        with contextlib.suppress(ValueError):  # keyset paging: `before` moved back in time
            later = later or float(params.get("before") or "inf") < time.time() - 2
        event = next((e for e, m in SLACK_METHOD.items() if m == method), None)
        if event is None or not later:
            return
        hook_rng = random.Random(f"{seed}:{len(slack.requests)}")
        trigger = killer.match(event)
        trigger = trigger or killer.match("any_page")
        if trigger is None:
            return
        if trigger.mode in ("slow_page", "sigterm_slow_page"):
            slack.fail_next(method, "slow", seconds=1.0)  # this very request: hooks run first
            feeder.storm(6, 0.15)
            delay = (0.05, 2.0) if trigger.mode == "slow_page" else (0.1, 0.6)
            killer.kill_later(hook_rng.uniform(*delay), trigger.mode)
        elif trigger.mode == "poll_error":
            slack.fail_next(method, "html500", times=3)  # retry_attempts, so the poll fails
            killer.kill_later(hook_rng.uniform(0.2, 1.5), trigger.mode)
        else:
            killer.kill(trigger.mode)

    slack.on_request = on_slack_request
    try:
        feeder.seed(int(time.time()))
        feeder.start()
        for n, mode in enumerate(plan(rng, kills, modes), 1):
            proxy.wait_idle()
            log_path = workdir / f"child-{n:03d}.log"
            with log_path.open("wb") as out:
                proc = subprocess.Popen(
                    [sys.executable, "-m", "connector.cli.main", "run", "--config", str(config)],
                    env=env,
                    cwd=ROOT,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            trigger = _trigger_for(mode, rng)
            killer.arm(proc, trigger)
            if trigger is None:
                killer.fired.wait(rng.uniform(min_run, max_run))
                killer.kill(mode)
            elif not killer.fired.wait(trigger_timeout):
                killer.disarm()
                killer.kill(f"{mode}:timeout")
            killer.fired.wait(5)
            graceful = killer.sig == signal.SIGTERM
            signalled = time.monotonic()
            try:
                proc.wait(timeout=term_timeout if graceful else 10)
            except subprocess.TimeoutExpired:
                anomalies.append(
                    f"child {n} hung: still running {term_timeout if graceful else 10}s after "
                    f"{killer.sig.name}: {_tail(log_path)}"
                )
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
            how = killer.how or f"{mode}:exited"
            tally_kills[how] += 1
            expected_codes = (0, -signal.SIGTERM) if graceful else (-signal.SIGKILL,)
            if proc.returncode not in expected_codes:
                anomalies.append(
                    f"child {n} exited with {proc.returncode} (expected {expected_codes}): "
                    f"{_tail(log_path)}"
                )
            anomalies.extend(_crashes_in(log_path, n))
            took = f", stopped in {time.monotonic() - signalled:.1f}s" if graceful else ""
            log(f"kill {n:3d}/{kills}: {how:<28} after {_age(log_path)}{took}")
        proc = None
        slack.on_request = None
        killer.disarm()
        feeder.stop()
        passes = _catch_up(config, env, workdir, proxy, anomalies, log)
        landed = read_bucket(s3, bucket)
        counts, quarantined = tally(truth, landed)
        lake = tally_lake(s3, bucket, landed, f"{PREFIX}/_quarantine/") if ocsf else None
        if slack.server_errors:
            anomalies.append(f"fake Slack raised: {slack.server_errors[-1][-400:]}")
    finally:
        if proc is not None and proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        with contextlib.suppress(Exception):
            feeder.stop()
        proxy.stop()
        slack.stop()
    result = ChaosResult(
        seed=seed,
        counts=counts,
        kills=tally_kills,
        quarantined=quarantined,
        anomalies=anomalies,
        workdir=workdir,
        catchup_passes=passes,
        elapsed=time.monotonic() - started,
        knobs=dict(knobs or {}),
        stored_then_killed=proxy.stored_then_killed,
        modes=modes,
        ocsf=lake,
        options=_options(
            min_run=(min_run, 0.4),
            max_run=(max_run, 4.0),
            trigger_timeout=(trigger_timeout, 6.0),
            page_size=(page_size, 20),
            audit_max_page=(audit_max_page or 0, 10),
            batch_max_events=(batch_max_events, 40),
            overlap=(late_overlap, 300),
            max_late=(max_late, 120),
        ),
    )
    log(result.report())
    return result


def _options(**values: tuple[Any, Any]) -> str:
    """`--name value` for every crash_run option that differs from its default."""
    return "".join(
        f" --{name.replace('_', '-')} {value}"
        for name, (value, default) in values.items()
        if value != default
    )


def _quiet(slack: FakeSlack) -> None:
    """Connections reset by a killed child are expected; keep their tracebacks off stderr."""
    server = getattr(slack, "_server", None)
    if server is not None:
        server.handle_error = lambda request, client_address: None


def _trigger_for(mode: str, rng: random.Random) -> Trigger | None:
    if mode in ("random", "sigterm"):
        return None
    if mode in ("audit_page", "access_page", "integration_page"):
        return Trigger(mode, mode, rng.randint(1, 3))
    if mode in ("slow_page", "sigterm_slow_page"):
        return Trigger(mode, rng.choice(PAGE_EVENTS), rng.randint(1, 3))
    if mode == "poll_error":
        return Trigger(mode, rng.choice((*PAGE_EVENTS, "any_page")), rng.randint(1, 2))
    if mode in ("s3_put_before", "s3_put_after"):
        return Trigger(mode, "s3_put", rng.randint(1, 3))
    if mode == "s3_head":
        return Trigger(mode, "s3_head", 1)
    raise ValueError(f"unknown kill mode {mode!r}; choose from {MODES}")


def _catch_up(
    config: Path,
    env: dict[str, str],
    workdir: Path,
    proxy: S3Proxy,
    anomalies: list[str],
    log: Callable[[str], None],
    max_passes: int = 8,
) -> int:
    """`slack-connector once` until a pass succeeds everywhere and writes nothing new."""
    for n in range(1, max_passes + 1):
        proxy.wait_idle()
        run = subprocess.run(
            [sys.executable, "-m", "connector.cli.main", "once", "--config", str(config)],
            env=env,
            cwd=ROOT,
            capture_output=True,
            timeout=180,
            check=False,
        )
        (workdir / f"once-{n}.log").write_bytes(run.stdout + b"\n" + run.stderr)
        anomalies.extend(_crashes_in(workdir / f"once-{n}.log", f"once {n}"))
        written = [int(m.group(4) or 0) + int(m.group(5) or 0) for m in _matches(run.stdout)]
        summary = run.stdout.decode(errors="replace").strip().replace("\n", " | ")
        log(f"catch-up {n}: rc={run.returncode} {summary}")
        if run.returncode == 0 and len(written) == len(LOG_TYPES) and not any(written):
            return n
    anomalies.append(f"catch-up did not settle after {max_passes} passes of `once`")
    return max_passes


def _matches(stdout: bytes) -> Iterator[re.Match[str]]:
    for line in stdout.decode(errors="replace").splitlines():
        m = _ONCE_LINE.match(line)
        if m:
            yield m


def _crashes_in(path: Path, who: object) -> list[str]:
    """Log lines that mean the connector itself broke (not the injected faults)."""
    found = []
    for line in path.read_text(errors="replace").splitlines():
        if '"poll crashed"' in line or "internal error" in line or "Traceback" in line:
            found.append(f"{who}: {line[:600]}")
    return found[:3]


def _tail(path: Path, n: int = 1200) -> str:
    return path.read_text(errors="replace")[-n:]


def _age(path: Path) -> str:
    polls = path.read_text(errors="replace").count('"poll done"')
    return f"{polls} completed polls"
