"""Every record of the shared Slack conformance data validates against its log type's model.

The data comes from public projects (see tests/conformance/slack/SOURCES.md); the
fragments under expected_invalid/ lack fields the schema requires and must be refused
with a reason that names what is missing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from connector.ingest.enrich import Enricher, Source
from connector.ingest.validate import validate
from connector.logtypes import REGISTRY, LogType
from tests.conftest import CONFORMANCE as DATA

LINE_FILES = {
    "audit": "audit_logs*.ndjson",
    "access": "access_logs.ndjson",
    "integration": "integration_logs.ndjson",
}
PAGE_FILES = {
    "audit": ("audit_logs_page*.json", "entries"),
    "access": ("access_logs_page*.json", "logins"),
    "integration": ("integration_logs_page*.json", "logs"),
}
INVALID = DATA / "expected_invalid" / "audit_logs_missing_required.ndjson"
REQUIRED_AUDIT = ("id", "date_create", "entity")


def logtype(name: str) -> LogType:
    return REGISTRY[name]()


def lines(path: Path) -> list[tuple[int, dict[str, Any]]]:
    text = path.read_text().splitlines()
    return [(n, json.loads(line)) for n, line in enumerate(text, 1) if line.strip()]


def line_cases() -> list[Any]:
    return [
        pytest.param(name, raw, id=f"{path.name}:{n}")
        for name, pattern in LINE_FILES.items()
        for path in sorted(DATA.glob(pattern))
        for n, raw in lines(path)
    ]


def page_cases() -> list[Any]:
    cases = []
    for name, (pattern, key) in PAGE_FILES.items():
        for path in sorted(DATA.glob(pattern)):
            records = json.loads(path.read_text())[key]
            assert records, f"{path.name} has no {key}"
            cases += [
                pytest.param(name, raw, id=f"{path.name}:{key}[{i}]")
                for i, raw in enumerate(records)
            ]
    return cases


def audit_line(n: int) -> dict[str, Any]:
    return dict(lines(DATA / "audit_logs.ndjson"))[n]


def test_every_data_file_is_covered() -> None:
    covered = {p for pattern in LINE_FILES.values() for p in DATA.glob(pattern)}
    covered |= {p for pattern, _ in PAGE_FILES.values() for p in DATA.glob(pattern)}
    assert covered == set(DATA.glob("*.ndjson")) | set(DATA.glob("*.json"))
    assert len(line_cases()) == 35 + 6 + 5 + 3


@pytest.mark.parametrize(("name", "raw"), line_cases())
def test_line_validates(name: str, raw: dict[str, Any]) -> None:
    result = validate(logtype(name), raw)
    assert isinstance(result, dict), result


@pytest.mark.parametrize(("name", "raw"), page_cases())
def test_page_record_validates(name: str, raw: dict[str, Any]) -> None:
    result = validate(logtype(name), raw)
    assert isinstance(result, dict), result


@pytest.mark.parametrize(
    "raw", [pytest.param(raw, id=f"{INVALID.name}:{n}") for n, raw in lines(INVALID)]
)
def test_missing_required_is_refused_with_reason(raw: dict[str, Any]) -> None:
    missing = [f for f in REQUIRED_AUDIT if f not in raw]
    assert missing, "fixture line is not missing a required field"
    reason = validate(logtype("audit"), raw)
    assert isinstance(reason, str)
    for field in missing:
        assert f"{field}: Field required" in reason


def enriched(name: str, raw: dict[str, Any]) -> dict[str, Any]:
    record = validate(logtype(name), raw)
    assert not isinstance(record, str), record
    line, _ = Enricher(Source("s", "S"), logtype(name), "2026-01-01T00:00:00Z").line(
        raw, record, "rid"
    )
    row: dict[str, Any] = json.loads(line)
    return row


def test_unknown_fields_are_kept() -> None:
    raw = audit_line(7)
    assert "session_id" in raw["context"]
    assert enriched("audit", raw)["context"] == raw["context"]


@pytest.mark.parametrize(
    "agent",
    [
        {"type": "slackbot", "id": "USLACKBOT", "name": "Slackbot", "on_behalf_of": "W1"},
        "Slackbot",
        None,
    ],
)
def test_acting_agent_lands_as_sent(agent: Any) -> None:
    """Slackbot acting for a user: declared in the schema, kept whatever its shape."""
    raw = audit_line(7)
    raw = {**raw, "context": {**raw["context"], "acting_agent": agent}}
    assert enriched("audit", raw)["context"]["acting_agent"] == agent


def test_unknown_top_level_field_is_kept() -> None:
    raw = {**dict(lines(DATA / "access_logs.ndjson"))[1], "brand_new": {"x": [1]}}
    assert enriched("access", raw)["brand_new"] == {"x": [1]}


def indicators(name: str, raw: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in enriched(name, raw).items() if k.startswith("p_any_")}


def test_indicators_skip_invalid_ip() -> None:
    raw = audit_line(1)
    assert raw["context"]["ip_address"] == "1.23.45.678"
    assert indicators("audit", raw) == {
        "p_any_usernames": ["Charlie Parker"],
        "p_any_emails": ["bird@slack.com"],
    }


def test_indicators_keep_valid_ip() -> None:
    raw = audit_line(2)
    found = indicators("audit", raw)
    assert found["p_any_ip_addresses"] == ["81.2.69.143"]
    assert found["p_any_usernames"] == ["Joe Bob", "roy"]
    assert found["p_any_emails"] == ["aaron@demo.com", "jbob@example.com"]


def test_access_indicators() -> None:
    for _, raw in lines(DATA / "access_logs.ndjson"):
        found = indicators("access", raw)
        assert found.get("p_any_ip_addresses") == [raw["ip"]]
