"""Every conformance event lands exactly once through the real path (fake Slack → S3);
every expected-invalid fragment lands in quarantine with its reason."""

from __future__ import annotations

from pathlib import Path

import orjson

from connector.service.app import App
from tests.conftest import CONFORMANCE, local_settings, ndjson, read_s3, source
from tests.fakes.slack_server import FakeSlack


def test_conformance_events_land_in_s3(
    slack: FakeSlack, tmp_path: Path, s3_bucket: tuple, moto_endpoint: str
) -> None:
    client, bucket = s3_bucket
    audit = ndjson(CONFORMANCE / "audit_logs.ndjson")
    # The API cannot return an entry without date_create (it filters on it), so the two
    # fragments missing only that field are covered by test_conformance_validate alone.
    invalid = [
        {"date_create": 1_700_000_000, **r}
        for r in ndjson(CONFORMANCE / "expected_invalid" / "audit_logs_missing_required.ndjson")
        if "date_create" in r or not ("id" in r and "entity" in r)
    ]
    access = ndjson(CONFORMANCE / "access_logs.ndjson")
    integration = ndjson(CONFORMANCE / "integration_logs.ndjson")
    slack.add_audit(audit)
    slack.add_audit(invalid)
    slack.add_access(access)
    slack.add_integration(integration)
    settings = local_settings(
        tmp_path, source(slack, first_run_lookback_seconds=20 * 365 * 86400, page_size=10)
    )
    settings = settings.model_copy(
        update={
            "output": settings.output.model_copy(
                update={"type": "s3", "bucket": bucket, "endpoint_url": moto_endpoint}
            )
        }
    )
    app = App(settings)
    try:
        outcomes = app.once()
        again = app.once()
    finally:
        app.close()
    assert all(o.ok for o in outcomes + again), [o.detail for o in outcomes]
    assert sum(o.result.written + o.result.quarantined for o in again if o.result) == 0

    objects = read_s3(client, bucket)
    rows = {
        k: [r for key, v in objects.items() if key.startswith(f"slack/{k}/") for r in v]
        for k in (
            "Slack.AuditLogs",
            "Slack.AccessLogs",
            "Slack.IntegrationLogs",
            "_quarantine/Slack.AuditLogs",
        )
    }

    def strip(row: dict) -> dict:
        return {k: v for k, v in row.items() if not k.startswith("p_")}

    assert sorted(
        orjson.dumps(strip(r), option=orjson.OPT_SORT_KEYS) for r in rows["Slack.AuditLogs"]
    ) == sorted(orjson.dumps(r, option=orjson.OPT_SORT_KEYS) for r in audit), "landed as sent"
    assert len(rows["Slack.AccessLogs"]) == 5
    assert len(rows["Slack.IntegrationLogs"]) == 3
    quarantined = rows["_quarantine/Slack.AuditLogs"]
    assert len(quarantined) == len(invalid) == 35
    assert all(q["reason"] and q["record"] for q in quarantined)
    assert all(
        ("id" in q["reason"]) or ("entity" in q["reason"]) or ("date_create" in q["reason"])
        for q in quarantined
    )
