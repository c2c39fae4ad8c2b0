"""Crashes at any instant lose nothing and double nothing.

* `test_sigkill_loop_*` runs the real daemon as a child process against live Slack data
  and SIGKILLs it at chosen and random instants (the short version of
  `python -m tests.chaos.crash_run`; set CHAOS_SEED to replay a printed seed).
* `test_death_*` kill the pipeline in-process at exact points: right after an object is
  stored but before the checkpoint commit, right before an upload, and during the recovery
  that follows, for every log type.
* `test_live_*` pin down data moving under a poll that pages: both lost a record with
  offset paging before the pollers re-read the page count and walked access by keyset.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from connector.config.load import parse
from connector.config.settings import Settings
from connector.service.app import App
from connector.sinks import build
from connector.state.sqlite import StateStore
from tests.chaos.harness import identity, integration_identity, run_chaos
from tests.conftest import local_settings, read_local, read_s3, source
from tests.factories import access, audit, integration, now
from tests.fakes.dying_sink import Died, DyingSink
from tests.fakes.slack_server import FakeSlack

FOLDER = {
    "audit": "Slack.AuditLogs",
    "access": "Slack.AccessLogs",
    "integration": "Slack.IntegrationLogs",
}


# --------------------------------------------------------------------------- subprocess
@pytest.mark.slow
@pytest.mark.timeout(90)
def test_sigkill_loop_lands_every_event_exactly_once(tmp_path: Path, moto_endpoint: str) -> None:
    seed = int(os.environ["CHAOS_SEED"]) if os.environ.get("CHAOS_SEED") else None
    result = run_chaos(
        tmp_path / "chaos",
        moto_endpoint,
        kills=7,
        seed=seed,
        max_run=2.5,
        trigger_timeout=4.0,
        modes=[
            "access_page",
            "s3_put_after",
            "s3_head",
            "slow_page",
            "s3_put_before",
            "audit_page",
            "random",
        ],
    )
    report = result.report()
    assert sum(result.kills.values()) == 7, report
    assert all(c.expected > 0 for c in result.counts), report
    assert not result.anomalies, report
    assert [(c.log_type, c.missing, c.duplicated, c.unexpected) for c in result.counts] == [
        ("audit", 0, 0, 0),
        ("access", 0, 0, 0),
        ("integration", 0, 0, 0),
    ], report
    assert result.quarantined == 0, report


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_sigkill_loop_lands_every_ocsf_event_exactly_once(
    tmp_path: Path, moto_endpoint: str
) -> None:
    """The same loop with the OCSF output on, its lake in the same bucket behind the same
    killing proxy: kills before and after raw and OCSF uploads alike, and the lake ends
    with exactly one OCSF event per raw row."""
    seed = int(os.environ["CHAOS_SEED"]) if os.environ.get("CHAOS_SEED") else None
    result = run_chaos(
        tmp_path / "chaos",
        moto_endpoint,
        kills=6,
        seed=seed,
        max_run=2.5,
        trigger_timeout=4.0,
        modes=["s3_put_after", "s3_put_before", "s3_head", "s3_put_after", "audit_page", "random"],
        ocsf=True,
    )
    report = result.report()
    assert sum(result.kills.values()) == 6, report
    assert not result.anomalies, report
    assert [(c.missing, c.duplicated, c.unexpected) for c in result.counts] == [(0, 0, 0)] * 3
    assert result.ocsf is not None and result.ocsf["expected"] > 0, report
    assert (result.ocsf["missing"], result.ocsf["duplicated"], result.ocsf["unexpected"]) == (
        0,
        0,
        0,
    ), report
    assert result.ocsf["landed"] == result.ocsf["expected"], report


# --------------------------------------------------------------------------- in-process
class World:
    """Slack data of one log type, with the ground truth kept beside it."""

    def __init__(self, slack: FakeSlack, log_type: str) -> None:
        self.slack = slack
        self.log_type = log_type
        self.truth: set[Any] = set()
        self.n = 0
        self.combos: list[tuple[str, str, str]] = []

    def add(self, count: int, *, history: bool = False) -> None:
        """`history` spreads dates over two hours (two partitions, so several objects)."""
        t = now()
        for _ in range(count):
            self.n += 1
            ts = t - (self.n * 211) % 7000 if history else t - self.n % 5
            if self.log_type == "audit":
                event = audit(self.n, ts)
                self.slack.add_audit([event])
                self.truth.add(event["id"])
            elif self.log_type == "access":
                combo = (f"U{self.n % 7:03d}", f"192.0.2.{self.n % 250}", f"UA/{self.n // 250}")
                self.slack.add_access([access(*combo, first=ts)])
                self.combos.append(combo)
                self.truth.add(combo)
            else:
                row = integration(self.n, ts)
                self.slack.add_integration([row])
                self.truth.add(integration_identity(row))
        if self.log_type == "audit" and not history:
            burst = [audit(self.n + i + 1, t - 1) for i in range(9)]  # one busy second
            self.n += 9
            self.slack.add_audit(burst)
            self.truth.update(e["id"] for e in burst)
        if self.log_type == "access":
            for combo in self.combos[::3]:
                self.slack.touch_access(*combo, when=t)

    def landed(self, client: Any, bucket: str) -> Counter[Any]:
        objects = read_s3(client, bucket, f"slack/{FOLDER[self.log_type]}/")
        return Counter(identity(self.log_type, row) for rows in objects.values() for row in rows)


def s3_settings(
    tmp_path: Path,
    slack: FakeSlack,
    bucket: str,
    endpoint: str,
    lt: str,
    batch_max_events: int = 7,
) -> Settings:
    return parse(
        {
            "state": {"path": str(tmp_path / "state.db")},
            "output": {
                "type": "s3",
                "bucket": bucket,
                "endpoint_url": endpoint,
                "region": "us-east-1",
                "batch_max_events": batch_max_events,
                # several writes per poll and an object per hour, as these tests need
                "hold_max_events": batch_max_events,
                "partitions": {lt: "hour"},
            },
            "sources": [
                source(slack, log_types=[lt], page_size=10, first_run_lookback_seconds=7200)
            ],
        }
    )


def die(settings: Settings, sink: DyingSink, lt: str) -> None:
    app = App(settings, sink=sink)
    try:
        with pytest.raises(Died):
            app.poll("acme", lt)
    finally:
        app.close()  # closes sockets and the database file; nothing is committed by it


def poll_until_quiet(settings: Settings, lt: str) -> list[Any]:
    """A fresh process polls until a poll writes nothing."""
    outcomes = []
    app = App(settings)
    try:
        for _ in range(4):
            outcome = app.poll("acme", lt)
            assert outcome.ok, outcome.detail
            outcomes.append(outcome)
            if outcome.result.written == 0:
                return outcomes
    finally:
        app.close()
    raise AssertionError(f"still writing after 4 polls: {outcomes}")


def assert_exactly_once(world: World, client: Any, bucket: str) -> None:
    got = world.landed(client, bucket)
    missing = world.truth - set(got)
    doubled = {k: n for k, n in got.items() if n > 1}
    unexpected = set(got) - world.truth
    assert (len(missing), len(doubled), len(unexpected)) == (0, 0, 0), (
        f"{world.log_type}: expected {len(world.truth)}, landed {sum(got.values())}, "
        f"missing {sorted(missing, key=repr)[:3]}, doubled {list(doubled)[:3]}"
    )


LOG_TYPES = ["audit", "access", "integration"]


@pytest.mark.parametrize("lt", LOG_TYPES)
@pytest.mark.parametrize("stored", [True, False], ids=["after-upload", "before-upload"])
def test_death_around_an_upload_loses_and_doubles_nothing(
    slack: FakeSlack,
    tmp_path: Path,
    s3_bucket: tuple[Any, str],
    moto_endpoint: str,
    lt: str,
    stored: bool,
) -> None:
    """`stored=True` is death between the upload and the checkpoint commit. The third upload:
    earlier batches of the same poll are committed (small `batch_max_events`)."""
    client, bucket = s3_bucket
    world = World(slack, lt)
    world.add(40, history=True)
    settings = s3_settings(tmp_path, slack, bucket, moto_endpoint, lt)
    sink = DyingSink(build(settings.output), die_on_put=3, stored=stored)

    die(settings, sink, lt)

    assert sink.died_at is not None
    store = StateStore(settings.state.path)
    try:
        intents = {i.object_key for i in store.intents("acme", lt)}
    finally:
        store.close()
    assert sink.died_at in intents  # the write was in flight when the process died
    assert (
        bool(client.list_objects_v2(Bucket=bucket, Prefix=sink.died_at).get("KeyCount")) is stored
    )
    world.add(6)  # Slack moves on while the connector is down
    first, *_ = poll_until_quiet(settings, lt)
    assert first.result.recovered >= 1
    world.add(5)
    poll_until_quiet(settings, lt)
    assert_exactly_once(world, client, bucket)


@pytest.mark.parametrize("lt", LOG_TYPES)
def test_death_during_recovery_loses_and_doubles_nothing(
    slack: FakeSlack, tmp_path: Path, s3_bucket: tuple[Any, str], moto_endpoint: str, lt: str
) -> None:
    """One batch over two hours is two objects; die after storing the second, then die again
    while the next start checks them, between the two HEADs."""
    client, bucket = s3_bucket
    world = World(slack, lt)
    world.add(40, history=True)  # dates span 7000 s: at least two hour partitions
    settings = s3_settings(tmp_path, slack, bucket, moto_endpoint, lt, batch_max_events=1000)

    die(settings, DyingSink(build(settings.output), die_on_put=2, stored=True), lt)
    world.add(4)
    die(settings, DyingSink(build(settings.output), die_on_exists=2), lt)
    world.add(4)
    poll_until_quiet(settings, lt)

    assert_exactly_once(world, client, bucket)


@pytest.mark.parametrize("lt", LOG_TYPES)
def test_death_on_every_upload_in_turn_converges(
    slack: FakeSlack, tmp_path: Path, s3_bucket: tuple[Any, str], moto_endpoint: str, lt: str
) -> None:
    """Die after the 1st upload, then after the 2nd of the next run, ...: progress is kept."""
    client, bucket = s3_bucket
    world = World(slack, lt)
    world.add(40, history=True)
    settings = s3_settings(tmp_path, slack, bucket, moto_endpoint, lt)
    for nth in range(1, 4):
        sink = DyingSink(build(settings.output), die_on_put=nth, stored=nth % 2 == 1)
        app = App(settings, sink=sink)
        try:
            app.poll("acme", lt)
        except Died:
            pass
        finally:
            app.close()
        world.add(3)
    poll_until_quiet(settings, lt)

    assert_exactly_once(world, client, bucket)


# --------------------------------------------------------------------------- live paging
def _once(settings: Settings) -> list[Any]:
    app = App(settings)
    try:
        return app.once()
    finally:
        app.close()


def test_live_integration_records_pushed_past_the_last_page_are_read(
    slack: FakeSlack, tmp_path: Path
) -> None:
    """An app installed while the first run pages pushes the oldest record onto a page that
    did not exist when the poll began; a poll that trusts page 1's page count never reads
    it, and the next poll's horizon is past it: lost."""
    t = now()
    history = [integration(i, t - 1800 + 30 * i) for i in range(40)]  # exactly 2 pages of 20
    slack.add_integration(history)
    new = integration(1000, t)

    def app_installed_while_paging(method: str, params: dict[str, str]) -> None:
        if method == "team.integrationLogs" and params.get("page") == "2" and slack.on_request:
            slack.on_request = None
            slack.add_integration([new])

    slack.on_request = app_installed_while_paging
    settings = local_settings(tmp_path, source(slack, log_types=["integration"], page_size=20))
    for _ in range(3):
        assert all(o.ok for o in _once(settings))

    rows = read_local(tmp_path / "out", "slack/Slack.IntegrationLogs")
    got = Counter(integration_identity(r) for r in rows)
    want = {integration_identity(r) for r in [*history, new]}
    assert not want - set(got), f"lost: {[w.decode() for w in want - set(got)]}"
    assert set(got.values()) == {1}


def test_live_access_row_touched_while_paging_hides_nothing(
    slack: FakeSlack, tmp_path: Path
) -> None:
    """A row touched during a poll leaves the `before` window (Slack may filter `before` on
    `date_last`); with offset paging every later row moves up one place and the first row
    of the next page is skipped, and an old one is never read again: lost."""
    t = now()
    combos = [(f"U{i:03d}", f"198.51.100.{i}", "Slack/1") for i in range(60)]
    slack.add_access(access(*c, first=t - 3000 + 40 * i) for i, c in enumerate(combos))

    def newest_user_logs_in_again(method: str, params: dict[str, str]) -> None:
        if method == "team.accessLogs" and params.get("page") == "2" and slack.on_request:
            slack.on_request = None
            slack.touch_access(*combos[59], when=int(params["before"]) + 1)

    slack.on_request = newest_user_logs_in_again
    settings = local_settings(tmp_path, source(slack, log_types=["access"], page_size=20))
    assert all(o.ok for o in _once(settings))
    time.sleep(1.1)  # the next poll's `before` covers the touched row again
    assert all(o.ok for o in _once(settings))

    rows = read_local(tmp_path / "out", "slack/Slack.AccessLogs")
    got = Counter((r["user_id"], r["ip"], r["user_agent"]) for r in rows)
    assert not set(combos) - set(got), f"lost: {sorted(set(combos) - set(got))}"
    assert set(got.values()) == {1}
