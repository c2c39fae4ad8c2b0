"""Faults around the connector: S3 down or throttling, state store broken, late events.

Each test ends in an exact comparison with what the fake Slack holds.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from connector.cli.main import main
from connector.config.settings import Settings
from connector.service.app import App
from connector.sinks.base import SinkError
from connector.state.sqlite import StateError, StateStore
from tests.conftest import local_settings, once, read_s3, source
from tests.factories import audit, cli_source, config_file, now
from tests.fakes.s3_proxy import S3Proxy
from tests.fakes.slack_server import FakeSlack


def s3_settings(
    tmp_path: Path, slack: FakeSlack, bucket: str, endpoint: str, **src: Any
) -> Settings:
    settings = local_settings(tmp_path, source(slack, log_types=["audit"], **src))
    return settings.model_copy(
        update={
            "output": settings.output.model_copy(
                update={
                    "type": "s3",
                    "bucket": bucket,
                    "endpoint_url": endpoint,
                    "region": "us-east-1",
                    "max_attempts": 2,
                }
            )
        }
    )


def audit_ids_in_s3(client: Any, bucket: str) -> Counter[str]:
    objects = read_s3(client, bucket, "slack/Slack.AuditLogs/")
    return Counter(r["id"] for rows in objects.values() for r in rows)


def test_s3_outage_loses_nothing_and_the_backlog_drains(
    slack: FakeSlack, tmp_path: Path, s3_bucket: tuple, moto_endpoint: str
) -> None:
    client, bucket = s3_bucket
    t = now()
    slack.add_audit(audit(i, t - 60 + i % 7) for i in range(30))
    with S3Proxy(moto_endpoint) as proxy:
        app = App(s3_settings(tmp_path, slack, bucket, proxy.url, page_size=10))
        try:
            proxy.down = True
            for wave in range(3):
                [outcome] = app.once()
                assert outcome.state == "failing" and "s3" in outcome.detail
                assert app.store.checkpoint("acme", "audit") is None, "checkpoint must not move"
                slack.add_audit(audit(100 + wave * 10 + i, now() - 1) for i in range(10))
            proxy.down = False
            [outcome] = app.once()
            assert outcome.ok, outcome.detail
        finally:
            app.close()
    ids = audit_ids_in_s3(client, bucket)
    assert len(ids) == 60 and set(ids.values()) == {1}


def test_s3_throttling_and_slow_uploads_are_absorbed(
    slack: FakeSlack, tmp_path: Path, s3_bucket: tuple, moto_endpoint: str
) -> None:
    client, bucket = s3_bucket
    slack.add_audit(audit(i, now() - 5) for i in range(20))
    with S3Proxy(moto_endpoint) as proxy:
        settings = s3_settings(tmp_path, slack, bucket, proxy.url)
        settings = settings.model_copy(
            update={"output": settings.output.model_copy(update={"max_attempts": 4})}
        )
        proxy.fail_next(2, 503)
        proxy.delay = 0.3
        app = App(settings)
        try:
            [outcome] = app.once()
        finally:
            app.close()
        assert outcome.ok, outcome.detail
        assert [s for _, _, s in proxy.requests][:2] == [503, 503]
    ids = audit_ids_in_s3(client, bucket)
    assert len(ids) == 20 and set(ids.values()) == {1}


def test_max_attempts_counts_every_attempt_not_retries(
    slack: FakeSlack, tmp_path: Path, s3_bucket: tuple, moto_endpoint: str
) -> None:
    """botocore's `max_attempts` counts retries (3 meant 4 requests); the S3 client and
    the lease client count attempts in all (`total_max_attempts`)."""
    from connector.sinks.s3 import S3Sink
    from connector.state.table import Table
    from tests.conftest import dynamodb_options

    _, bucket = s3_bucket
    with S3Proxy(moto_endpoint) as proxy:
        output = s3_settings(tmp_path, slack, bucket, proxy.url).output
        sink = S3Sink.from_config(output.model_copy(update={"max_attempts": 3}))
        proxy.fail_next(3, 500)
        with pytest.raises(SinkError):
            sink.put("slack/x.json.gz", b"x")
        sink.close()
        assert [(m, s) for m, _, s in proxy.requests] == [("PUT", 500)] * 3
        options = dynamodb_options(proxy.url)
        proxy.requests.clear()
        proxy.fail_next(2, 500)
        with pytest.raises(StateError):
            Table.for_leases(options).get("lease", "x")
        assert [s for _, _, s in proxy.requests] == [500], "no retry inside botocore"


def test_state_in_use_by_another_process_is_refused(
    slack: FakeSlack, tmp_path: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    settings = local_settings(tmp_path, source(slack, log_types=["audit"]))
    holder = StateStore(settings.state.path)
    try:
        with pytest.raises(StateError, match="in use by another"):
            App(settings)
    finally:
        holder.close()
    App(settings).close()


def test_state_locked_by_a_writer_fails_the_poll_clearly(slack: FakeSlack, tmp_path: Path) -> None:
    import sqlite3

    slack.add_audit(audit(i, now() - 5) for i in range(3))
    settings = local_settings(tmp_path, source(slack, log_types=["audit"]))
    settings = settings.model_copy(
        update={"state": settings.state.model_copy(update={"busy_timeout_seconds": 0.2})}
    )
    app = App(settings)
    foreign = sqlite3.connect(settings.state.path, isolation_level=None)
    try:
        foreign.execute("BEGIN IMMEDIATE")
        [outcome] = app.once()
        assert outcome.state == "failing" and "locked" in outcome.detail
        foreign.execute("ROLLBACK")
        [outcome] = app.once()
        assert outcome.ok, outcome.detail
    finally:
        foreign.close()
        app.close()


def test_full_disk_commits_nothing_and_recovers(slack: FakeSlack, tmp_path: Path) -> None:
    t = now()
    slack.add_audit(audit(i, t - 30) for i in range(5))
    settings = local_settings(tmp_path, source(slack, log_types=["audit"]))
    app = App(settings)
    try:
        assert app.once()[0].ok
        before = app.store.checkpoint("acme", "audit")
        pages = app.store._db.execute("PRAGMA page_count").fetchone()[0]
        app.store._db.execute(f"PRAGMA max_page_count = {pages}")
        slack.add_audit(audit(100 + i, t - 10, details={"blob": "x" * 3000}) for i in range(200))
        [outcome] = app.once()
        assert outcome.state == "failing" and "full" in outcome.detail
        assert app.store.checkpoint("acme", "audit") == before
        app.store._db.execute("PRAGMA max_page_count = 1073741823")
        assert app.once()[0].ok
    finally:
        app.close()
    from tests.conftest import read_local

    ids = Counter(r["id"] for r in read_local(tmp_path / "out", "slack/Slack.AuditLogs"))
    assert len(ids) == 205 and set(ids.values()) == {1}


def test_read_only_state_fails_the_poll_without_reset(slack: FakeSlack, tmp_path: Path) -> None:
    slack.add_audit(audit(i, now() - 5) for i in range(3))
    app = App(local_settings(tmp_path, source(slack, log_types=["audit"])))
    try:
        app.store._db.execute("PRAGMA query_only = ON")
        [outcome] = app.once()
        assert outcome.state == "failing" and "read-only" in outcome.detail
    finally:
        app.close()


def test_corrupt_state_is_an_error_not_a_first_run(
    slack: FakeSlack, tmp_path: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    state = tmp_path / "state.db"
    state.write_bytes(b"this is not sqlite" * 300)
    source = cli_source(slack, audit_calls_per_minute=None)
    config = config_file(tmp_path, source, name="c.toml", state={"path": str(state)})
    assert main(["once", "--config", str(config)]) == 1
    assert "corrupt" in capsys.readouterr().err
    assert state.read_bytes() == b"this is not sqlite" * 300
    assert slack.count("logs") == 0


def test_late_events_inside_the_overlap_are_caught(slack: FakeSlack, tmp_path: Path) -> None:
    t = now()
    slack.add_audit(audit(i, t - 10) for i in range(3))
    settings = local_settings(
        tmp_path, source(slack, log_types=["audit"], late_event_overlap_seconds=300)
    )
    app = App(settings)
    try:
        app.once()
        slack.add_audit([audit(50, t - 200), audit(51, t - 10)])
        [outcome] = app.once()
    finally:
        app.close()
    assert outcome.result.written == 2 and outcome.result.duplicates == 3


class Died(BaseException):
    """The process dying in the middle of an upload."""


def test_a_truncated_object_left_by_a_crash_is_not_taken_as_written(
    slack: FakeSlack, tmp_path: Path
) -> None:
    """Some S3-compatible stores keep what arrived of an interrupted upload; recovery
    compares the object's size with the one recorded before the upload."""
    from connector.sinks.local import LocalSink
    from tests.conftest import read_local

    class HalfWrite(LocalSink):
        def put(self, key: str, body: bytes, check_lease: Callable[[], None] | None = None) -> None:
            super().put(key, body[: len(body) // 2])
            raise Died

    slack.add_audit(audit(i, now() - 5) for i in range(10))
    settings = local_settings(tmp_path, source(slack, log_types=["audit"]))
    app = App(settings, sink=HalfWrite(tmp_path / "out"))
    with pytest.raises(Died):
        app.once()
    app.close()

    [outcome] = once(settings)

    assert outcome.ok and outcome.result.recovered == 1 and outcome.result.written == 10
    ids = Counter(r["id"] for r in read_local(tmp_path / "out"))
    assert len(ids) == 10 and set(ids.values()) == {1}
