"""Slack's anomaly events as alerts, unit by unit: the reasons and their severity, the
event's times, one user's burst as one alert, trusted networks, and the once-only marks
(against a real SQLite store; the end-to-end runs are in test_detections_flow.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from connector.alerts.base import Alert
from connector.config.detections import AnomalyConfig
from connector.config.errors import ConfigError
from connector.config.load import parse as parse_settings
from connector.detections.anomalies import AnomalyAlerts
from connector.detections.anomaly import iso_micros, micros_of, parse
from connector.detections.grouping import fold
from connector.detections.reasons import DEFAULT_SEVERITY, SeverityMap, reasons_of
from connector.detections.trusted import TrustedNetworks
from connector.state.sqlite import StateStore
from tests import factories
from tests.conftest import CONFORMANCE

DOCUMENTED = [
    "asn", "excessive_downloads", "excessive_file_shares", "excessive_malware_uploads",
    "ip_address", "search_volume", "session_fingerprint", "spoofed_user_agent", "tor",
    "unexpected_admin_action", "unexpected_api_call_volume", "unexpected_client",
    "unexpected_credential_testing", "unexpected_message_deletion", "unexpected_scraping",
    "unexpected_user_agent", "user_agent",
]  # fmt: skip
T0 = 1_787_680_000


def row(i: int, ts: int, reasons: Any = ("asn", "ip_address"), **kw: Any) -> dict[str, Any]:
    return {
        **factories.anomaly(i, ts, reasons, **kw),
        "p_source_id": "acme",
        "p_source_label": "Acme",
    }


def lines(*rows: dict[str, Any]) -> list[bytes]:
    return [orjson.dumps(r) for r in rows]


# -- reasons and severity --------------------------------------------------------------------


def test_every_documented_reason_has_a_default_and_nothing_is_critical_by_default() -> None:
    assert sorted(DEFAULT_SEVERITY) == DOCUMENTED
    assert "critical" not in DEFAULT_SEVERITY.values()
    assert {DEFAULT_SEVERITY[c] for c in ("ip_address", "asn", "user_agent")} == {"low"}


@pytest.mark.parametrize(
    ("codes", "expected"),
    [
        (["asn", "ip_address"], "low"),
        (["ip_address", "tor"], "high"),
        (["excessive_downloads", "user_agent"], "medium"),
        (["brand_new_code"], "medium"),
        ([], "medium"),
    ],
)
def test_the_highest_reason_wins(codes: list[str], expected: str) -> None:
    assert SeverityMap().highest(codes) == expected


def test_overrides_change_only_their_codes() -> None:
    levels = SeverityMap({"tor": "critical", "ip_address": "info"})
    assert levels.highest(["tor", "asn"]) == "critical"
    assert levels.highest(["ip_address"]) == "info"
    assert levels.highest(["asn"]) == "low"


def test_config_rejects_an_unknown_severity_and_names_the_field() -> None:
    base = {"sources": [{"id": "a", "token_env": "X"}]}
    with pytest.raises(ConfigError, match=r"detections\.anomaly\.severity\.tor"):
        parse_settings({**base, "detections": {"anomaly": {"severity": {"tor": "urgent"}}}})
    with pytest.raises(ConfigError, match=r"detections\.anomaly\.trusted_cidrs"):
        parse_settings({**base, "detections": {"anomaly": {"trusted_cidrs": ["10.0.0.0/33"]}}})
    cfg = parse_settings({**base, "detections": {"anomaly": {"trusted_asns": ["AS13335", 64500]}}})
    assert cfg.detections.anomaly.trusted_asns == [13335, 64500]
    assert cfg.detections.anomaly.enabled is True and cfg.detections.anomaly.group_seconds == 300


@pytest.mark.parametrize(
    ("details", "codes", "well_formed"),
    [
        ({"reason": ["tor", "ip_address"]}, ["tor", "ip_address"], True),
        ({"reason": ["tor", "tor", ""]}, ["tor"], True),
        ({"reason": "asn,ip_address"}, ["asn", "ip_address"], True),
        ({"reason": ["tor", 7]}, ["tor", "7"], False),
        ({}, [], False),
        ({"reason": 42}, [], False),
        ({"reason": {"code": "tor"}}, [], False),
        ("not an object", [], False),
    ],
)
def test_reasons_of_any_shape(details: Any, codes: list[str], well_formed: bool) -> None:
    assert reasons_of(details) == (codes, well_formed)


# -- times -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "micros"),
    [
        (1787680154590746, 1787680154590746),
        ("1787680154590746", 1787680154590746),
        (1673631621862, 1673631621862000),  # elastic's fixture: milliseconds
        (1787680154, 1787680154000000),
        (1787680154.5, 1787680154500000),
        ("nope", None),
        (True, None),
        (None, None),
        (-5, None),
        (float("nan"), None),
    ],
)
def test_action_timestamp_in_any_unit(value: Any, micros: int | None) -> None:
    assert micros_of(value) == micros


def test_microseconds_are_shown_exactly() -> None:
    assert iso_micros(1787680154590746) == "2026-08-25T17:49:14.590746Z"
    assert iso_micros(1787680154000000) == "2026-08-25T17:49:14Z"


def test_conformance_anomalies_parse_with_their_context() -> None:
    raw = [
        json.loads(line)
        for line in (CONFORMANCE / "audit_logs.ndjson").read_text().splitlines()
        if '"anomaly"' in line
    ]
    parsed = [parse(r) for r in raw]
    assert len(parsed) >= 4 and all(p is not None for p in parsed)
    first = next(p for p in parsed if p and p.event_id == "00000000-0000-4000-8000-000000000049")
    assert first is not None
    assert first.user == "user45@example.com"
    assert first.reasons == ["asn", "ip_address"]
    assert first.micros == 1787680154590746
    assert first.context["previous_ip_address"] == "203.0.113.160"
    assert first.context["session_id"] == "100000508"
    assert first.context["ip_address_details"] == "new-asn"
    assert parse({"action": "user_login"}) is None


# -- grouping --------------------------------------------------------------------------------


def test_fold_new_grown_escalated_and_a_new_group_after_the_window() -> None:
    window = 300 * 1_000_000
    a = parse(row(1, T0))
    b = parse(row(2, T0 + 200))
    c = parse(row(3, T0 + 250, ("tor",)))
    d = parse(row(4, T0 + 400))
    assert a and b and c and d
    g, change = fold(None, a, "low", window)
    assert change == "new" and g.count == 1
    g, change = fold(g, b, "low", window)
    assert change == "grown" and g.count == 2
    g, change = fold(g, c, "high", window)
    assert (
        change == "escalated" and g.severity == "high" and g.reasons == ["asn", "ip_address", "tor"]
    )
    g2, change = fold(g, d, "low", window)
    assert change == "new" and g2.previous == {"start": g.start, "count": 3}


# -- the observer, over a real store ---------------------------------------------------------


class Detector:
    def __init__(self, tmp_path: Path, **cfg: Any) -> None:
        self.store = StateStore(tmp_path / "state.db")
        self.sent: list[Alert] = []
        self.counts: dict[str, int] = {}
        self.alerts = AnomalyAlerts(AnomalyConfig(**cfg), self.store, self.sent.append, self.count)

    def count(self, source_id: str, outcome: str, n: int) -> None:
        self.counts[outcome] = self.counts.get(outcome, 0) + n

    def scan(self, *rows: dict[str, Any]) -> list[Alert]:
        before = len(self.sent)
        self.alerts.scan(lines(*rows))
        self.alerts.poll_done("acme", "audit")
        return self.sent[before:]


@pytest.fixture
def detector(tmp_path: Path) -> Any:
    d = Detector(tmp_path)
    yield d
    d.store.close()


def test_one_anomaly_one_alert_with_its_title_and_context(detector: Detector) -> None:
    (alert,) = detector.scan(row(1, T0, ("tor", "ip_address")), factories.audit(2, T0))
    assert alert.rule == "slack_anomaly" and alert.status == "trigger"
    assert alert.summary == "Slack anomaly: alice@example.com — tor, ip_address"
    assert alert.severity == "high"
    ctx = alert.context
    assert ctx["event_id"] == row(1, T0)["id"]
    assert ctx["time"] == iso_micros((T0 - 52) * 1_000_000 + 590_746)
    assert ctx["ip_address"] == "203.0.113.170" and ctx["previous_ip_address"] == "203.0.113.160"
    assert ctx["user_agent"] == "Mozilla/5.0" and ctx["previous_user_agent"] == "Slack/4.40"
    assert ctx["location"] == "Test Region, ZZ" and ctx["session_id"]
    assert ctx["reasons"] == "tor, ip_address"
    assert "IP address: 203.0.113.170 (was 203.0.113.160)" in alert.detail
    assert alert.as_dict()["severity"] == "high"


def test_the_same_anomaly_never_alerts_twice(detector: Detector, tmp_path: Path) -> None:
    assert len(detector.scan(row(1, T0))) == 1
    assert detector.scan(row(1, T0)) == []
    detector.store.close()
    again = Detector(tmp_path)  # a restart
    assert again.scan(row(1, T0)) == []
    assert again.counts == {"repeated": 1}
    detector.store = again.store


def test_marks_are_pruned_a_retention_behind_the_newest_anomaly(tmp_path: Path) -> None:
    """Marks stay bounded: those of anomalies `retention_seconds` older (by Slack's time)
    than the newest go, and such an old anomaly read again is `expired`, never re-alerted."""
    day = 86_400
    d = Detector(tmp_path, retention_seconds=2 * day)
    try:
        assert len(d.scan(row(1, T0), row(2, T0 + day))) == 2
        assert d.store.detection_mark(f"detections:anomaly:seen:acme:{row(1, T0)['id']}")
        assert len(d.scan(row(3, T0 + 3 * day))) == 1
        assert d.store.detection_mark(f"detections:anomaly:seen:acme:{row(1, T0)['id']}") is None
        assert d.store.detection_mark(f"detections:anomaly:seen:acme:{row(2, T0)['id']}")
        assert d.scan(row(1, T0), row(2, T0 + day), row(3, T0 + 3 * day)) == []
        assert d.counts == {"alerted": 3, "expired": 1, "repeated": 2}
        assert d.store.open_alerts() == {}
    finally:
        d.store.close()


def test_a_burst_is_one_alert_with_a_count(detector: Detector) -> None:
    burst = [row(i, T0 + 30 * i, email="bob@example.com") for i in range(5)]
    other = row(9, T0, email="carol@example.com")
    alerts = detector.scan(*reversed(burst), other)  # pages arrive newest first
    by_user = {a.context["user"]: a for a in alerts}
    assert sorted(by_user) == ["bob@example.com", "carol@example.com"]
    assert by_user["bob@example.com"].context["count"] == "5"
    assert by_user["bob@example.com"].summary.endswith("(5 anomalies)")
    assert detector.counts == {"alerted": 2, "grouped": 4}


def test_later_polls_grow_the_group_silently_and_escalation_renotifies(detector: Detector) -> None:
    (first,) = detector.scan(row(1, T0))
    assert detector.scan(row(2, T0 + 60)) == []
    (louder,) = detector.scan(row(3, T0 + 120, ("session_fingerprint",)))
    assert louder.status == "renotify" and louder.key == first.key
    assert louder.severity == "high" and louder.context["count"] == "3"
    (later,) = detector.scan(row(4, T0 + 1000))
    assert later.status == "trigger" and later.key != first.key
    assert "grew to 3 anomalies" in later.detail


def test_group_seconds_zero_alerts_on_each(tmp_path: Path) -> None:
    d = Detector(tmp_path, group_seconds=0)
    assert len(d.scan(row(1, T0), row(2, T0 + 1))) == 2
    d.store.close()


def test_unknown_and_missing_reasons_still_alert(detector: Detector) -> None:
    new, missing, odd = detector.scan(
        row(1, T0, ("quantum_tunnel",), email="a@x.io"),
        row(2, T0, None, email="b@x.io"),
        row(3, T0, 17, email="c@x.io"),
    )
    assert new.summary == "Slack anomaly: a@x.io — quantum_tunnel" and new.severity == "medium"
    assert missing.summary == "Slack anomaly: b@x.io — no reason given"
    assert missing.context["reason_field"] == "malformed: missing"
    assert "missing or malformed" in missing.detail
    assert odd.context["reason_field"] == "malformed: 17" and odd.severity == "medium"


def test_trusted_networks_suppress_network_only_anomalies(tmp_path: Path) -> None:
    d = Detector(tmp_path, trusted_cidrs=["203.0.113.0/24"], trusted_asns=[64500])
    assert d.scan(row(1, T0)) == []
    assert d.scan(row(2, T0, ip="198.51.100.7", asn="AS64500")) == []
    assert len(d.scan(row(3, T0, ("tor", "ip_address")))) == 1  # tor is never excused
    assert len(d.scan(row(4, T0, ip="198.51.100.7", email="x@y.z"))) == 1
    assert d.counts == {"suppressed": 2, "alerted": 2}
    d.store.close()


def test_trusted_networks_of_both_versions() -> None:
    trusted = TrustedNetworks(["2001:db8::/32", "10.0.0.0/8"])
    for ip, excused in (
        ("2001:db8::1", True),
        ("10.1.2.3", True),
        ("11.0.0.1", False),
        ("x", False),
    ):
        anomaly = parse(row(1, T0, ip=ip))
        assert anomaly is not None and trusted.excuses(anomaly) is excused


def test_disabled_or_another_log_type_is_not_watched(tmp_path: Path) -> None:
    d = Detector(tmp_path, enabled=False)
    assert d.alerts.watch("acme", "audit") is None
    d.store.close()
    on = Detector(tmp_path / "b")
    assert on.alerts.watch("acme", "access") is None
    assert on.alerts.watch("acme", "audit") == on.alerts.scan
    on.store.close()


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    st.lists(
        st.tuples(st.integers(0, 3), st.integers(0, 2000), st.sampled_from(["low", "tor", "x"])),
        min_size=1,
        max_size=25,
    ),
    st.integers(1, 6),
    st.randoms(use_true_random=False),
)
@example([(0, 0, "low"), (0, 400, "low"), (0, 200, "tor")], 1, __import__("random").Random(0))
def test_every_anomaly_is_counted_once_whatever_the_pages(
    events: list[tuple[int, int, str]], pages: int, rnd: Any
) -> None:
    """However the events are split into pages, ordered, and re-read, each one is counted
    once (alerted, or grouped into an alert), and each new group is one trigger."""
    import tempfile

    reasons = {"low": ("ip_address",), "tor": ("tor",), "x": ("new_code",)}
    rows = [
        row(i, T0 + t, reasons[r], email=f"u{user}@x.io") for i, (user, t, r) in enumerate(events)
    ]
    rnd.shuffle(rows)
    with tempfile.TemporaryDirectory() as tmp:
        d = Detector(Path(tmp))
        size = max(1, len(rows) // pages)
        chunks = [rows[i : i + size] for i in range(0, len(rows), size)]
        for chunk in chunks + chunks[:1]:  # the first page is read again
            d.scan(*chunk)
        d.store.close()
    assert d.counts.get("alerted", 0) + d.counts.get("grouped", 0) == len(rows)
    triggers = [a for a in d.sent if a.status == "trigger"]
    assert len({a.key for a in triggers}) == len(triggers) == d.counts["alerted"]
