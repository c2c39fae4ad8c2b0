"""Audit logs end to end over real sockets: fake Slack → connector → local dir / S3."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import local_settings, once, read_local, read_s3, source
from tests.factories import audit, now
from tests.fakes.slack_server import FakeSlack


def landed_ids(tmp_path: Path) -> Counter[str]:
    return Counter(r["id"] for r in read_local(tmp_path / "out", "slack/Slack.AuditLogs"))


def test_first_run_pages_with_cursor_and_resends_oldest(slack: FakeSlack, tmp_path: Path) -> None:
    t = now()
    slack.add_audit(audit(i, t - 10 - i // 5) for i in range(40))
    slack.add_audit([audit(900, t - 2 * 86400)])
    slack.audit_max_page = 7
    settings = local_settings(tmp_path, source(slack, log_types=["audit"]))

    [outcome] = once(settings)

    assert outcome.ok, outcome.detail
    ids = landed_ids(tmp_path)
    assert len(ids) == 40 and set(ids.values()) == {1}
    assert audit(900, 0)["id"] not in ids, "older than the first-run lookback"
    reqs = [r for r in slack.requests if r.method == "logs"]
    assert len(reqs) == 6
    assert {r.params["oldest"] for r in reqs} == {reqs[0].params["oldest"]}
    assert all("latest" not in r.params for r in reqs), (
        "the live window is bounded by Slack's clock"
    )
    assert all("cursor" in r.params for r in reqs[1:])
    assert int(reqs[0].params["oldest"]) == pytest.approx(t - 86400, abs=5)


def test_rows_carry_standard_fields(slack: FakeSlack, tmp_path: Path) -> None:
    t = now()
    slack.add_audit([audit(1, t - 5)])
    once(local_settings(tmp_path, source(slack, log_types=["audit"])))
    [row] = read_local(tmp_path / "out")
    assert row["p_log_type"] == "Slack.AuditLogs"
    assert row["p_event_time"].endswith("Z") and row["p_parse_time"].endswith("Z")
    assert row["p_source_id"] == "acme" and row["p_source_label"] == "acme org"
    assert row["p_any_ip_addresses"] == ["203.0.113.1"]
    assert row["p_any_emails"] == ["user1@example.com"]
    assert row["p_any_usernames"] == ["user1"]
    assert row["context"]["session_id"] == 913888259766, "unknown fields are kept"
    assert len(row["p_row_id"]) == 32


def test_restart_from_checkpoint_dedupes_boundary_second(slack: FakeSlack, tmp_path: Path) -> None:
    t = now()
    slack.add_audit(audit(i, t - 30) for i in range(10))
    settings = local_settings(tmp_path, source(slack, log_types=["audit"]))
    once(settings)
    slack.add_audit(audit(i, t - 30) for i in range(10, 15))
    slack.add_audit(audit(i, t) for i in range(15, 20))

    [outcome] = once(settings)

    assert outcome.result.duplicates == 10, "the overlap re-reads the boundary second"
    ids = landed_ids(tmp_path)
    assert len(ids) == 20 and set(ids.values()) == {1}
    second = [r for r in slack.requests if r.method == "logs"][-1]
    assert int(second.params["oldest"]) <= t - 30


@pytest.mark.parametrize("kind", ["html500", "truncated", "garbage", "reset"])
def test_transient_errors_are_retried(slack: FakeSlack, tmp_path: Path, kind: str) -> None:
    t = now()
    slack.add_audit(audit(i, t - i) for i in range(12))
    slack.audit_max_page = 5
    settings = local_settings(tmp_path, source(slack, log_types=["audit"]))
    slack.fail_next("logs", kind, times=2)

    [outcome] = once(settings)

    assert outcome.ok, outcome.detail
    assert len(landed_ids(tmp_path)) == 12
    assert slack.count("logs") == 3 + 2


def test_failure_mid_pagination_loses_and_doubles_nothing(slack: FakeSlack, tmp_path: Path) -> None:
    t = now()
    slack.add_audit(audit(i, t - 100 + i // 4) for i in range(60))
    slack.audit_max_page = 8
    settings = local_settings(tmp_path, source(slack, log_types=["audit"], retry_attempts=2))
    calls = {"n": 0}

    def break_third_page(method: str, params: dict[str, str]) -> None:
        if method == "logs":
            calls["n"] += 1
            if calls["n"] == 3:
                slack.fail_next("logs", "html500", times=2)

    slack.on_request = break_third_page
    [failed] = once(settings)
    assert failed.state == "failing"
    assert 0 < len(landed_ids(tmp_path)) < 60, "the pages fetched before the failure landed"
    slack.on_request = None

    [outcome] = once(settings)

    assert outcome.ok, outcome.detail
    ids = landed_ids(tmp_path)
    assert len(ids) == 60 and set(ids.values()) == {1}


def test_short_pages_and_missing_metadata(slack: FakeSlack, tmp_path: Path) -> None:
    t = now()
    slack.add_audit(audit(i, t - 50 + i // 10) for i in range(100))
    slack.short_pages = True
    slack.omit_metadata_on_last_page = True
    slack.audit_max_page = 20
    once(local_settings(tmp_path, source(slack, log_types=["audit"])))
    ids = landed_ids(tmp_path)
    assert len(ids) == 100 and set(ids.values()) == {1}


def test_lands_in_s3_with_hive_partitions(
    slack: FakeSlack, tmp_path: Path, s3_bucket: tuple, moto_endpoint: str
) -> None:
    client, bucket = s3_bucket
    t = now()
    slack.add_audit(audit(i, t - 3600 * (i % 3)) for i in range(9))
    settings = local_settings(tmp_path, source(slack, log_types=["audit"]))
    settings = settings.model_copy(
        update={
            "output": settings.output.model_copy(
                update={
                    "type": "s3",
                    "bucket": bucket,
                    "endpoint_url": moto_endpoint,
                    "region": "us-east-1",
                    "prefix": "logs/slack",
                }
            )
        }
    )
    [outcome] = once(settings)
    assert outcome.ok, outcome.detail
    objects = read_s3(client, bucket)
    assert len(objects) == 3, "one object per event hour"
    for key, rows in objects.items():
        assert key.startswith("logs/slack/Slack.AuditLogs/year=")
        assert "/month=" in key and "/day=" in key and "/hour=" in key and key.endswith(".json.gz")
        hours = {r["p_event_time"][:13] for r in rows}
        assert len(hours) == 1
    assert sum(len(v) for v in objects.values()) == 9
