"""`slack-connector demo`: the shipped simulator pages like Slack, and the demo lands,
validates and continues from state in the same output directory."""

from __future__ import annotations

import gzip
import io
import os
import re
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from connector.demo.command import LOG_TYPES, TOKEN_ENV, run_demo
from connector.demo.simulator import DAY, DEMO_TOKEN, SlackSimulator
from connector.ingest.validate import validate
from connector.logtypes import REGISTRY

KEY = re.compile(
    r"^slack/(?P<folder>Slack\.\w+)/year=\d{4}/month=[1-9]\d?/day=[1-9]\d?/(hour=(0|[1-9]\d?)/)?"
    r"demo_\d{8}T\d{6}Z_[0-9a-f]{24}\.json\.gz$"
)


def landed(output: Path) -> dict[str, list[dict[str, Any]]]:
    """Every row under the output directory, per log type, checking each object's key."""
    rows: dict[str, list[dict[str, Any]]] = {name: [] for name in LOG_TYPES}
    folders = {REGISTRY[name].log_type: name for name in LOG_TYPES}
    for path in sorted(output.rglob("*.json.gz")):
        key = path.relative_to(output).as_posix()
        match = KEY.match(key)
        assert match and match["folder"] in folders, key
        with gzip.open(path) as fh:
            rows[folders[match["folder"]]] += [orjson.loads(line) for line in fh]
    return rows


def test_demo_lands_valid_events_and_a_second_run_continues(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    output = tmp_path / "output"
    stream = io.StringIO()

    assert run_demo(4, tmp_path, poll_interval=1, stream=stream) == 0

    first = landed(output)
    for name in LOG_TYPES:
        logtype = REGISTRY[name]()
        assert first[name], f"no {name} events landed"
        for row in first[name]:
            assert not isinstance(validate(logtype, row), str), row
            assert row["p_log_type"] == logtype.log_type
            assert row["p_source_id"] == "demo"
            assert row["p_source_label"] == "Demo Enterprise Grid"
    assert len(first["audit"]) >= 1900  # a day of history
    assert not (output / "slack" / "_quarantine").exists()
    text = stream.getvalue()
    assert str(output) in text and "zcat " in text and "slack-connector check" in text
    assert (tmp_path / "state.db").is_file()
    assert TOKEN_ENV not in os.environ  # the demo token does not outlive the demo

    second_stream = io.StringIO()
    assert run_demo(3, tmp_path, poll_interval=1, stream=second_stream) == 0

    second = landed(output)
    ids = Counter(row["id"] for row in second["audit"])
    assert ids and max(ids.values()) == 1, ids.most_common(3)
    new_audit = len(second["audit"]) - len(first["audit"])
    assert 0 <= new_audit < 500  # only what is new since the first run, not the day again
    for name in ("access", "integration"):
        assert len(second[name]) - len(first[name]) < 10, name
    assert str(output) in second_stream.getvalue()


def test_demo_reports_failure_when_nothing_could_poll(tmp_path: Path) -> None:
    """Zero seconds: the scheduler never completes a poll, so the demo says it failed."""
    stream = io.StringIO()
    assert run_demo(0, tmp_path, poll_interval=60, stream=stream) == 1
    assert "nothing landed" in stream.getvalue()


def page_audit(client: httpx.Client, base: str, **params: Any) -> list[list[dict[str, Any]]]:
    pages, cursor = [], ""
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        resp = client.get(base + "logs", params=query)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        pages.append(body["entries"])
        cursor = body["response_metadata"]["next_cursor"]
        if not cursor:
            return pages


def test_simulator_audit_paging_returns_every_event_once_newest_first() -> None:
    headers = {"Authorization": f"Bearer {DEMO_TOKEN}"}
    with (
        SlackSimulator(history_audit=400, events_per_second=40) as sim,
        httpx.Client(headers=headers) as client,
    ):
        latest = int(time.time())
        time.sleep(1.2)  # live events now exist after `latest`; they must stay out
        pages = page_audit(client, sim.audit_api_url, oldest=0, latest=latest, limit=7)
        entries = [e for page in pages for e in page]
        assert all(len(page) <= 7 for page in pages) and len(pages) > 40
        ids = [e["id"] for e in entries]
        assert len(ids) == len(set(ids))
        dates = [e["date_create"] for e in entries]
        assert dates == sorted(dates, reverse=True) and dates[0] <= latest
        with sim._lock:
            expected = {e["id"] for ts, _, e in sim._audit if ts <= latest}
        assert set(ids) == expected and len(expected) >= 350

        # The cursor is only a position: the window comes from each request, as on Slack.
        oldest, upper = dates[len(dates) // 2], dates[len(dates) // 4]
        window = page_audit(client, sim.audit_api_url, oldest=oldest, latest=upper, limit=5)
        got = [e["id"] for page in window for e in page]
        assert got == [e["id"] for e in entries if oldest <= e["date_create"] <= upper]

        assert client.get(sim.audit_api_url + "logs", params={"limit": 10000}).status_code == 400
        bad = client.get(sim.audit_api_url + "logs", headers={"Authorization": "Bearer xoxp-no"})
        assert bad.status_code == 401 and bad.json()["error"] == "invalid_auth"


def test_simulator_web_methods_page_classically() -> None:
    headers = {"Authorization": f"Bearer {DEMO_TOKEN}"}
    with SlackSimulator(events_per_second=0) as sim, httpx.Client(headers=headers) as client:
        for method, key, total_at_least in (
            ("team.accessLogs", "logins", 30),
            ("team.integrationLogs", "logs", 1),
        ):
            rows, page = [], 1
            while True:
                body = client.get(
                    sim.web_api_url + method, params={"count": 4, "page": page}
                ).json()
                assert body["ok"] is True and body["paging"]["count"] == 4
                rows += body[key]
                if page >= body["paging"]["pages"]:
                    break
                page += 1
            assert len(rows) == body["paging"]["total"] >= total_at_least
            if key == "logs":
                assert all(isinstance(r["date"], str) for r in rows)
                assert all(("app_id" in r) != ("service_id" in r) for r in rows)
                dates = [int(r["date"]) for r in rows]
            else:
                assert len({(r["user_id"], r["ip"], r["user_agent"]) for r in rows}) == len(rows)
                dates = [r["date_last"] for r in rows]
            assert dates == sorted(dates, reverse=True)
            assert min(dates) >= time.time() - DAY - 5
        over = client.get(sim.web_api_url + "team.accessLogs", params={"count": 1001}).json()
        assert over == {"ok": False, "error": "over_pagination_limit"}
        bad = client.get(sim.web_api_url + "team.accessLogs", headers={"Authorization": "Bearer x"})
        assert bad.status_code == 200 and bad.json() == {"ok": False, "error": "invalid_auth"}


def test_simulator_history_is_the_same_on_a_second_start() -> None:
    """The past depends on the seed and the hour, so a rerun meets the same audit ids."""
    first, second = SlackSimulator(), SlackSimulator()
    with first._lock, second._lock:
        a = {e["id"] for ts, _, e in first._audit}
        b = {e["id"] for ts, _, e in second._audit}
        assert len(a) > 1500 and len(a & b) >= len(a) - 10
        assert first._access.keys() == second._access.keys()
