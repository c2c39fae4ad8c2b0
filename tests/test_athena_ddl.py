"""The Athena DDL against what the pipeline really writes: every field of every landed row
is a declared column of a compatible type, every object key is a partition the table's
projection template produces, and partition values read as one integer type in DuckDB."""

from __future__ import annotations

import gzip
import re
from pathlib import Path
from typing import Any

import duckdb
import orjson

from tests import factories
from tests.conftest import CONFORMANCE, local_settings, ndjson, once, source
from tests.fakes.slack_server import FakeSlack, drift_records
from tests.test_deploy import _athena_tables, _table_for

HOURS = 30


def _live_audit(now: int) -> list[dict[str, Any]]:
    """Audit entries shaped like live data: fields and entity types the schema lacks."""
    base = factories.audit(9000, now - 3600, "huddle_ended")
    huddle = {
        **base,
        "id": "live-huddle",
        "entity": {
            "type": "huddle",
            "huddle": {
                "id": "R0000000503",
                "date_start": now - 3700,
                "date_end": now - 3600,
                "participants": ["U1", "U2"],
            },
        },
        "context": {**base["context"], "session_id": None},
    }
    app = {
        **base,
        "id": "live-app",
        "action": "org_app_upgraded_to_org_install",
        "actor": {"type": "user", "user": {**base["actor"]["user"], "account_type": "Owner"}},
        "entity": {
            "type": "app",
            "app": {
                "id": "A1",
                "name": "app",
                "is_distributed": True,
                "is_directory_approved": True,
                "is_workflow_app": False,
                "scopes": ["users.profile:write"],
                "bot_scopes": ["chat:write"],
            },
        },
        "context": {
            **base["context"],
            "session_id": "8f2a",
            "acting_agent": {"type": "slackbot", "id": "USLACKBOT", "name": "Slackbot"},
            "app": {
                "id": "A1",
                "name": "app",
                "creator": "U1",
                "team": "T1",
                "scopes": ["a"],
                "scopes_bot": ["b"],
            },
        },
    }
    others = [
        {
            **base,
            "id": "live-role",
            "entity": {"type": "role", "role": {"id": "R1", "name": "n", "type": "t"}},
        },
        {
            **base,
            "id": "live-group",
            "entity": {"type": "usergroup", "usergroup": {"id": "S1", "name": "n"}},
        },
        {
            **base,
            "id": "live-channel",
            "entity": {
                "type": "channel",
                "channel": {
                    "id": "C1",
                    "name": "c",
                    "privacy": "public",
                    "is_shared": False,
                    "is_org_shared": False,
                    "teams_shared_with": [],
                    "is_salesforce_channel": False,
                },
            },
        },
    ]
    return [huddle, app, *others]


CORPUS = {
    "audit": ["audit_logs.ndjson", "audit_logs_variants.ndjson"],
    "access": ["access_logs.ndjson"],
    "integration": ["integration_logs.ndjson"],
}
"""The conformance corpus: real Slack records, whose every field path the DDL declares."""


def corpus() -> dict[str, list[dict[str, Any]]]:
    return {
        kind: [r for f in files for r in ndjson(CONFORMANCE / f)] for kind, files in CORPUS.items()
    }


def _land(slack: FakeSlack, tmp_path: Path) -> Path:
    """The factories' rows, the live shapes above, the conformance corpus and the fake's
    drift records, landed by the real pipeline: the expected paths are what they hold."""
    now = factories.now()
    for kind, rows in [*corpus().items(), *drift_records(now).items()]:
        getattr(slack, f"add_{kind}")(rows)
    slack.add_audit([factories.audit(i, now - i * 3600 // 2) for i in range(2 * HOURS)])
    slack.add_audit(
        [{**factories.audit(i, now - 60), "details": {"reason": "x"}} for i in range(1000, 1003)]
    )
    slack.add_audit(_live_audit(now))
    slack.add_audit([{**factories.audit(5000, now - 120), "actor": "not an object"}])
    slack.add_access(
        [
            factories.access(f"U{i}", f"198.51.100.{i}", "Slack/1.0", now - i * 86_400 // 3)
            for i in range(3 * 12)
        ]
    )
    slack.add_integration([factories.integration(i, now - i * 86_400 // 2) for i in range(20)])
    settings = local_settings(
        tmp_path, source(slack, first_run_lookback_seconds=20 * 365 * 86_400, page_size=7)
    )
    assert all(o.ok for o in once(settings))
    return tmp_path / "out"


def _accepts(declared: Any, value: Any, where: str) -> None:
    if value is None:
        return
    if isinstance(declared, dict):
        assert isinstance(value, dict), f"{where}: {value!r} is not a struct"
        for name, inner in value.items():
            assert name in declared, f"{where}.{name} is written but not declared in tables.sql"
            _accepts(declared[name], inner, f"{where}.{name}")
    elif isinstance(declared, list):
        assert isinstance(value, list), f"{where}: {value!r} is not an array"
        for item in value:
            _accepts(declared[0], item, f"{where}[]")
    elif declared == "string":
        # the OpenX SerDe reads JSON numbers, booleans, objects and arrays into a string column
        assert isinstance(value, str | int | float | bool | dict | list), where
    elif declared == "bigint":
        assert isinstance(value, int) and not isinstance(value, bool), f"{where}: {value!r}"
    elif declared == "boolean":
        assert isinstance(value, bool), f"{where}: {value!r}"
    else:
        raise AssertionError(f"{where}: unexpected DDL type {declared}")


def _table_of(key: str) -> tuple[dict[str, Any], str]:
    """The table whose location holds `key` (the longest, so quarantine wins over none)."""
    url = f"s3://BUCKET/PREFIX/{key}"
    table = max(
        (t for t in _athena_tables().values() if url.startswith(t["location"])),
        key=lambda t: len(t["location"]),
    )
    return table, url


def _partition_values(table: dict[str, Any], url: str) -> dict[str, str]:
    """The partition values the table's projection template reads from an object's URL."""
    template = table["props"]["storage.location.template"]
    pattern = re.escape(template)
    for part in table["partitions"]:
        pattern = pattern.replace(re.escape("${" + part + "}"), f"(?P<{part}>[^/]+)")
    match = re.match(pattern + r"/[^/]+\.json\.gz$", url)
    assert match, f"{url} is not under {template}"
    return match.groupdict()


def test_every_landed_field_and_partition_is_declared(slack: FakeSlack, tmp_path: Path) -> None:
    out = _land(slack, tmp_path)
    seen_tables: set[str] = set()
    rows = 0
    for path in sorted(out.rglob("*.json.gz")):
        key = path.relative_to(out).as_posix().removeprefix("slack/")
        table, url = _table_of(key)
        seen_tables.add(table["location"])
        values = _partition_values(table, url)
        int_parts = re.search(r"PARTITIONED BY \((.*?)\)\s*\n", table["rest"], re.S)
        assert int_parts
        for part, value in values.items():
            if part == "log_type":
                assert value in table["props"]["projection.log_type.values"].split(",")
                continue
            assert f"`{part}` int" in int_parts.group(1)
            assert re.fullmatch(r"0|[1-9]\d*", value), f"{part}={value}: an int, unpadded"
            low, high = table["props"][f"projection.{part}.range"].split(",")
            assert int(low) <= int(value) <= int(high), f"{url}: {part} outside the projection"
        for line in gzip.decompress(path.read_bytes()).splitlines():
            row = orjson.loads(line)
            rows += 1
            for name, value in row.items():
                assert name in table["columns"], f"{key}: column {name} not in tables.sql"
                _accepts(table["columns"][name], value, f"{table['location']} {name}")
    assert len(seen_tables) == 4, seen_tables
    drift = sum(len(r) for r in drift_records(0).values())
    assert rows >= 2 * HOURS + 3 + 5 + 36 + 20 + 1 + drift
    for log_type in ("Slack.AuditLogs", "Slack.AccessLogs", "Slack.IntegrationLogs"):
        assert _table_for(log_type)["location"] in seen_tables


LOG_TYPES = {
    "audit": "Slack.AuditLogs",
    "access": "Slack.AccessLogs",
    "integration": "Slack.IntegrationLogs",
}


def test_every_field_path_of_the_corpus_and_the_drift_records_is_declared() -> None:
    """Straight from the records, whether or not a run lands each one (duplicates in the
    corpus are deduplicated, invalid ones quarantined): every path is a column."""
    paths = 0
    for kind, rows in [*corpus().items(), *drift_records(0).items()]:
        table = _table_for(LOG_TYPES[kind])
        for row in rows:
            for name, value in row.items():
                assert name in table["columns"], f"{kind}: column {name} not in tables.sql"
                _accepts(table["columns"][name], value, f"{LOG_TYPES[kind]} {name}")
                paths += 1
    assert paths > 300


def test_duckdb_reads_every_partition_value_as_one_integer_type(
    slack: FakeSlack, tmp_path: Path
) -> None:
    out = _land(slack, tmp_path)
    audit = (out / "slack" / "Slack.AuditLogs").as_posix()
    con = duckdb.connect()
    types = con.execute(
        "SELECT DISTINCT typeof(year), typeof(month), typeof(day), typeof(hour), count(*) OVER () "
        f"FROM read_json_auto('{audit}/**/*.json.gz', hive_partitioning = true)"
    ).fetchall()
    assert [t[:4] for t in types] == [("BIGINT", "BIGINT", "BIGINT", "BIGINT")]
    hours = {
        h
        for (h,) in con.execute(
            f"SELECT DISTINCT hour FROM read_json_auto('{audit}/**/*.json.gz', hive_partitioning = true)"
        ).fetchall()
    }
    assert any(h < 10 for h in hours) and any(h >= 10 for h in hours), hours
