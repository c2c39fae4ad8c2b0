"""The search benchmark lands its rows with the connector's own batch code; this keeps
that code in step with `connector.ingest.batch` (it once broke silently when the Batch API moved)."""

from __future__ import annotations

import time
from pathlib import Path

from bench import landed
from connector.config.settings import OutputConfig
from connector.indicators.match import parse
from connector.search.query import Searcher
from connector.search.results import Window


def test_landed_rows_have_the_daemon_layout_and_are_found_by_search(tmp_path: Path) -> None:
    sample = landed.write(tmp_path, 3_000, int(time.time()), days=3)
    objects = sorted(tmp_path.rglob("*.json.gz"))
    assert objects
    assert all("/Slack.AuditLogs/year=" in str(p) and "/hour=" in str(p) for p in objects)
    searcher = Searcher(OutputConfig(type="local", path=str(tmp_path)))
    hits = searcher.search([parse(sample["ip"])], Window.last(), limit=100)
    assert hits
    assert all(sample["ip"] in h.row.get("p_any_ip_addresses", []) for h in hits)
