"""Bad and surprising records: new things land untouched, invalid ones go to quarantine."""

from __future__ import annotations

from pathlib import Path

import orjson

from connector.service.app import App
from connector.slack.client import _json_object
from tests.conftest import local_settings, read_local, source
from tests.factories import audit, now
from tests.fakes.slack_server import FakeSlack


def test_drift_lands_untouched_and_invalid_records_are_quarantined(
    slack: FakeSlack, tmp_path: Path
) -> None:
    t = now()
    drift = audit(1, t - 5, action="salesforce_mcp_server_connected")
    drift["entity"] = {"type": "workflow_v2", "workflow_v2": {"id": "Wf1", "steps": [1, 2]}}
    drift["context"]["acting_agent"] = {"id": "B1", "kind": "ai"}
    drift["brand_new_top_level"] = {"nested": [None, True, 1.5]}
    nulls = audit(2, t - 5)
    nulls["actor"]["user"]["name"] = None
    nulls["context"]["ip_address"] = None
    huge = audit(3, t - 5, details={"rows": [{"k": "v" * 100, "i": i} for i in range(5000)]})
    unicode = audit(4, t - 5, details={"text": 'caf\u00e9 \U0001f600 \u202e / \\ "q"'})
    missing_id = audit(5, t - 5)
    del missing_id["id"]
    wrong_types = audit(6, t - 5)
    wrong_types["actor"] = "W123"
    bad_time = audit(7, t - 5)
    bad_entity = audit(8, t - 5)
    bad_entity["entity"]["channel"] = {"name": "no id"}
    slack.add_audit([drift, nulls, huge, unicode, missing_id, wrong_types, bad_entity, bad_time])

    app = App(local_settings(tmp_path, source(slack, log_types=["audit"])))
    try:
        [outcome] = app.once()
        [again] = app.once()
    finally:
        app.close()

    assert outcome.result.written == 5 and outcome.result.quarantined == 3
    assert again.result.written == 0 and again.result.quarantined == 0, (
        "quarantine is exactly once too"
    )
    landed = {r["id"]: r for r in read_local(tmp_path / "out", "slack/Slack.AuditLogs")}
    for original in (drift, nulls, huge, unicode, bad_time):
        row = landed[original["id"]]
        assert {k: v for k, v in row.items() if not k.startswith("p_")} == original
    assert "p_any_ip_addresses" not in landed[nulls["id"]]
    quarantined = read_local(tmp_path / "out", "slack/_quarantine/Slack.AuditLogs")
    reasons = {q["record"].get("id", "-"): q["reason"] for q in quarantined}
    assert "id: Field required" in reasons["-"]
    assert reasons[wrong_types["id"]].startswith("actor:")
    assert "entity.channel.id: Field required" in reasons[bad_entity["id"]]
    assert all(q["p_log_type"] == "Slack.AuditLogs" and q["p_row_id"] for q in quarantined)


def test_quarantine_total_is_counted_in_status(slack: FakeSlack, tmp_path: Path) -> None:
    bad = audit(1, now() - 5)
    del bad["entity"]
    slack.add_audit([bad, audit(2, now() - 5)])
    app = App(local_settings(tmp_path, source(slack, log_types=["audit"])))
    try:
        app.once()
        assert app.store.status("acme", "audit")["quarantined_total"] == 1
    finally:
        app.close()


def test_invalid_utf8_and_lone_surrogates_do_not_block_the_page() -> None:
    body = b'{"entries":[{"id":"a","text":"\xff\xfe ok"},{"id":"b","text":"\\ud800 x"}]}'
    parsed = _json_object(body)
    assert parsed is not None
    assert [e["id"] for e in parsed["entries"]] == ["a", "b"]
    orjson.dumps(parsed)
    assert _json_object(b'{"entries":[{"id":"a"') is None
