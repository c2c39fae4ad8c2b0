"""Every record the tests know of, through the OCSF mapper: each lands in exactly one class,
validates against the vendored OCSF 1.1.0 schema (`tests/ocsf_schema.py`), keeps its Slack
id as `metadata.uid`, and loses no value (each leaf is placed in the class or in
`unmapped`, counted: `tests/ocsf_lost.py`).

The records: every audit entry of the conformance corpus (public Slack samples), the demo
simulator's generators, the fake Slack's drift records, the test factories for every action
a family names, each of those with fields removed and users of any parts, and hypothesis'
actions and shapes (derandomized).
"""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from connector.demo.org import Org
from connector.ocsf.event import CLASSES
from connector.ocsf.families import FAMILIES
from connector.ocsf.logs import CHANGES
from connector.ocsf.mapper import to_ocsf
from tests.conftest import CONFORMANCE
from tests.factories import access, audit, integration
from tests.fakes.slack_server import drift_records
from tests.ocsf_lost import leaves, lost
from tests.ocsf_schema import validate

AUDIT, ACCESS, INTEGRATION = "Slack.AuditLogs", "Slack.AccessLogs", "Slack.IntegrationLogs"
UIDS = {c.uid for c in CLASSES.values()}


def corpus(name: str) -> list[dict[str, Any]]:
    rows = []
    for line in (CONFORMANCE / name).read_text().splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict):
            rows.append(row)
    for page in sorted(CONFORMANCE.glob(f"{name.split('.')[0].removesuffix('s')}s_page*.json")):
        entries = json.loads(page.read_text())
        for key in ("entries", "logins", "logs"):
            rows += [r for r in entries.get(key) or [] if isinstance(r, dict)]
    return rows


def landed(row: dict[str, Any], log_type: str, n: int = 0) -> dict[str, Any]:
    """A row as the pipeline lands it: Slack's fields and the connector's `p_*`."""
    return {
        **row,
        "p_log_type": log_type,
        "p_row_id": f"row-{n:04d}",
        "p_event_time": "2024-03-05T08:25:47.000Z",
        "p_source_id": "acme",
    }


def check(row: dict[str, Any]) -> dict[str, Any]:
    event = to_ocsf(row)
    assert event["class_uid"] in UIDS
    errors = validate(event)
    assert errors == [], (row.get("action"), errors, event)
    slack_id = row.get("id") if row["p_log_type"] == AUDIT else row["p_row_id"]
    assert event["metadata"]["uid"] == str(slack_id)
    assert lost(row, event) == [], (row, event)
    return event


AUDIT_ROWS = [landed(r, AUDIT, i) for i, r in enumerate(corpus("audit_logs.ndjson"))] + [
    landed(r, AUDIT, i) for i, r in enumerate(corpus("audit_logs_variants.ndjson"))
]


@pytest.mark.parametrize("row", AUDIT_ROWS, ids=lambda r: str(r.get("action")))
def test_every_conformance_audit_entry(row: dict[str, Any]) -> None:
    check(row)


def test_the_conformance_corpus_lands_mostly_in_specific_classes() -> None:
    events = [to_ocsf(r) for r in AUDIT_ROWS]
    specific = sum(e["class_uid"] != 0 for e in events)
    assert len(events) >= 40
    assert specific / len(events) >= 0.75, specific / len(events)


@pytest.mark.parametrize(
    "row",
    [landed(r, ACCESS, i) for i, r in enumerate(corpus("access_logs.ndjson"))]
    + [landed(r, INTEGRATION, i) for i, r in enumerate(corpus("integration_logs.ndjson"))],
)
def test_every_conformance_access_and_integration_row(row: dict[str, Any]) -> None:
    event = check(row)
    if row["p_log_type"] == ACCESS:
        assert event["class_uid"] == 3002 and event["activity_id"] == 1
        assert event["start_time"] <= event["end_time"] == event["time"]
    else:
        assert event["class_uid"] == 3004


def test_the_demo_generators() -> None:
    rng = random.Random(29)
    org = Org(rng)
    for i in range(400):
        check(landed(org.audit_event(rng, 1_700_000_000 + i), AUDIT, i))
        check(landed(org.integration_log(rng, 1_700_000_000 + i), INTEGRATION, i))


NAMED = sorted(
    {
        a
        for f in FAMILIES
        for a in getattr(f.match, "__self__", ())  # an exact family's frozenset
    }
)


@pytest.mark.parametrize("action", NAMED)
def test_every_named_action_in_the_factories_shapes(action: str) -> None:
    """Each action a family names, with the factory's user entity, and with the entity
    its family expects: a specific class when the entity is there, Base Event when not."""
    family = next(f for f in FAMILIES if f.match(action))
    event = check(landed(audit(7, 1_700_000_000, action), AUDIT))
    entity = {
        "file_hosting": {"type": "file", "file": {"id": "F1", "name": "a.pdf"}},
        "group_management": {"type": "usergroup", "usergroup": {"id": "S1", "name": "oncall"}},
        "entity_management": {"type": "channel", "channel": {"id": "C1", "name": "general"}},
    }.get(family.cls)
    if entity:
        event = check(landed(audit(7, 1_700_000_000, action, entity=entity), AUDIT))
    assert event["class_uid"] == CLASSES[family.cls].uid
    assert event["activity_id"] == family.activity[0]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    action=st.sampled_from([*NAMED, "pref.dlp_enabled", "channel_renamed", "brand_new_action"])
    | st.text(max_size=20),
    actor=st.fixed_dictionaries({}, optional={"type": st.text(max_size=5), "user": json_values}),
    entity=json_values,
    context=json_values,
    details=json_values,
    extra=st.dictionaries(st.text(min_size=1, max_size=6), json_values, max_size=2),
)
@example(
    action="user_login",
    actor={"user": {"email": "not-an-address"}},
    entity=None,
    context={"ip_address": "999.1.1.1"},
    details=None,
    extra={},
)
@example(
    action="user_login",
    actor={"user": {"id": "W1", "a.b": "x"}},
    entity=None,
    context=None,
    details={"a.b": "lost once", "a": {"b": "lost twice"}, "c": {"d": 1}},
    extra={},
)
@example(
    action="anomaly",
    actor={},
    entity=None,
    context={"ip_address": "10.0.0.1", "ua": ""},
    details={"reason": "ip_address", "location": "Nowhere"},
    extra={},
)
def test_any_shape_maps_to_one_valid_event(
    action: str, actor: Any, entity: Any, context: Any, details: Any, extra: dict[str, Any]
) -> None:
    row = {
        **{k: v for k, v in extra.items() if not k.startswith("p_")},
        "id": "0123a45b-0001-8900-e12f-3456789gh0i1",
        "date_create": 1_700_000_000,
        "action": action,
        "actor": actor,
        "entity": entity,
        "context": context,
        "details": details,
    }
    check(landed(row, AUDIT))


@settings(max_examples=100, deadline=None, derandomize=True)
@given(
    user=st.text(max_size=8),
    ip=st.sampled_from(["203.0.113.9", "2001:db8::1", "not-an-ip", ""]),
    first=st.integers(0, 2**33),
    span=st.integers(0, 10**6),
    count=st.integers(-1, 2**32) | st.none(),
    country=st.sampled_from(["US", "", None]),
)
def test_any_access_row_maps_to_a_valid_aggregated_logon(
    user: str, ip: str, first: int, span: int, count: int | None, country: str | None
) -> None:
    row = access(user, ip, "Mozilla/5.0", first, first + span)
    row.update(count=count, country=country, isp="BigCo")
    check(landed(row, ACCESS))
    check(landed(integration(3, first, "expanded"), INTEGRATION))


def known_rows() -> list[dict[str, Any]]:
    """Every record the tests know, landed: the conformance corpus of each log type, the
    fake Slack's drift records, the factories (each named action, with its family's
    entity) and the demo simulator."""
    rows = list(AUDIT_ROWS)
    rows += [landed(r, ACCESS, i) for i, r in enumerate(corpus("access_logs.ndjson"))]
    rows += [landed(r, INTEGRATION, i) for i, r in enumerate(corpus("integration_logs.ndjson"))]
    drift = drift_records(1_700_000_000)
    rows += [landed(r, AUDIT) for r in drift["audit"]] + [
        landed(r, ACCESS) for r in drift["access"]
    ]
    rows += [landed(audit(i, 1_700_000_000, a), AUDIT, i) for i, a in enumerate(NAMED)]
    rows += [
        landed(integration(i, 1_700_000_000, c), INTEGRATION, i) for i, c in enumerate(CHANGES)
    ]
    rng = random.Random(2929)
    org = Org(rng)
    rows += [landed(org.audit_event(rng, 1_700_000_000 + i), AUDIT, i) for i in range(60)]
    return rows


KNOWN = known_rows()
USERS = ("actor.user", "entity.user", "entity.app", "entity.channel", "entity.file")
"""Where a record names a user or an entity: the property puts a user of any parts at one."""

slack_text = st.sampled_from(["W012A3CDE", "T9", "", "a,b", "0"]) | st.text(max_size=6)
person = st.fixed_dictionaries(
    {},
    optional={
        "id": slack_text | st.integers(0, 99) | st.none(),
        "name": slack_text | st.none(),
        "email": st.sampled_from(["who@example.com", "a.b+c@x-y.io", "nope@", ""]) | slack_text,
        "team": slack_text | st.integers(0, 99) | st.booleans(),
        "enterprise": slack_text,
    },
)


def edited(row: dict[str, Any], drop: set[int], at: str | None, who: Any) -> dict[str, Any]:
    """The row without the leaves numbered in `drop`, and `who` put at the dotted path
    `at` (replacing what was there)."""
    out = copy.deepcopy(row)
    paths = [p for p, _ in leaves({k: v for k, v in out.items() if not k.startswith("p_")})]
    for n in sorted(drop, reverse=True):
        if n < len(paths):
            *parents, last = paths[n].split(".")
            node = out
            for key in parents:
                node = node.get(key) if isinstance(node, dict) else None
            if isinstance(node, dict):
                node.pop(last, None)
    if at is not None:
        *parents, last = at.split(".")
        node = out
        for key in parents:
            if not isinstance(node.get(key), dict):
                node[key] = {}
            node = node[key]
        node[last] = who
    return out


@settings(max_examples=400, deadline=None, derandomize=True)
@given(
    n=st.integers(0, len(KNOWN) - 1),
    drop=st.sets(st.integers(0, 30), max_size=6),
    at=st.sampled_from(USERS) | st.none(),
    who=person,
)
@example(n=0, drop=set(), at="actor.user", who={"email": "who@example.com", "team": "T9"})
@example(n=0, drop=set(), at="entity.user", who={"email": "who@example.com", "team": "T9"})
def test_no_slack_value_is_lost_from_any_known_record_with_parts_missing(
    n: int, drop: set[int], at: str | None, who: dict[str, Any]
) -> None:
    """Each known record, with some of its fields gone and a user or entity of any parts:
    every leaf lands in a mapped field or in `unmapped` (`lost`). A user with neither id
    nor name keeps its email and team in `unmapped` (issue 29: they were dropped)."""
    check(edited(KNOWN[n], drop, at, who))


def test_the_schema_file_is_the_pinned_version() -> None:
    vendored = json.loads((Path(__file__).parent.parent / "schemas/ocsf/1.1.0.json").read_text())
    assert vendored["version"] == "1.1.0"
    assert {c["uid"] for c in vendored["classes"].values()} == UIDS


def test_the_mapping_doc_names_every_family() -> None:
    doc = (Path(__file__).parent.parent / "docs" / "ocsf.md").read_text()
    rows = {line.split("|")[1].strip() for line in doc.splitlines() if line.startswith("| ")}
    assert {f.name for f in FAMILIES} <= rows
    for f in FAMILIES:
        if hasattr(f.match, "__self__"):
            for action in f.match.__self__:  # type: ignore[attr-defined]
                assert f"`{action}`" in doc, action


@pytest.mark.parametrize(
    "changes",
    [
        {"action": 5},
        {"action": None},
        {"date_create": "yesterday"},
        {"date_create": float("inf")},
        {"date_create": True, "p_event_time": "not a time"},
    ],
)
def test_odd_actions_and_times_keep_their_values(changes: dict[str, Any]) -> None:
    """A value the mapper cannot use is left in `unmapped`, never consumed and lost."""
    row = landed(audit(1, 1_700_000_000, "user_login"), AUDIT)
    row.update(changes)
    event = check(row)
    for key, value in changes.items():
        if not key.startswith("p_") and value is not None:
            assert key in event["unmapped"], (key, event["unmapped"])


def test_digits_of_other_scripts_are_no_ip() -> None:
    """A dotted quad of Arabic-Indic or full-width digits is no IP for OCSF's `ip_t`: it
    stays in `unmapped` (it was placed, and the event failed the schema)."""
    for ip in ("\u0661.\u0662.\u0663.\u0664", "\uff11.\uff12.\uff13.\uff14"):
        row = landed(audit(1, 1_700_000_000, "user_login"), AUDIT)
        row["context"]["ip_address"] = ip
        event = check(row)
        assert "src_endpoint" not in event and event["unmapped"]["context.ip_address"] == ip


def test_a_membership_change_naming_no_user_is_a_base_event() -> None:
    """Group Management needs a user (or privileges): a channel join whose actor names
    nobody is a Base Event, not an invalid Group Management event."""
    channel = {"type": "channel", "channel": {"id": "C1", "name": "general"}}
    row = landed(audit(1, 1_700_000_000, "user_channel_join", entity=channel), AUDIT)
    row["actor"] = {"type": "app"}
    assert check(row)["class_uid"] == 0
