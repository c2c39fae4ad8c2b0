"""`slack-connector search` over what the real pipeline landed, on local disk and in moto S3."""

from __future__ import annotations

import gzip
import tomllib
from pathlib import Path
from typing import Any

import orjson
import pytest

from connector.cli.main import main
from tests.conftest import read_local, read_s3
from tests.factories import access, audit, cli_source, config_file, integration, now
from tests.fakes.slack_server import FakeSlack


def write_config(tmp_path: Path, slack: FakeSlack, output: dict[str, Any] | str) -> str:
    """`output` as a table, or as the TOML lines of one (as tests written before the
    config factory pass it)."""
    if isinstance(output, str):
        output = tomllib.loads(output)
    source = cli_source(
        slack,
        label="acme org",
        log_types=None,
        web_api_url=slack.web_api_url,
        web_calls_per_minute=100_000,
        retry_backoff_seconds=0.01,
    )
    return str(config_file(tmp_path, source, output=output))


def once_to_s3(
    slack: FakeSlack,
    tmp_path: Path,
    s3_bucket: tuple[Any, str],
    moto_endpoint: str,
    capsys: pytest.CaptureFixture[str],
) -> tuple[str, list[dict[str, Any]]]:
    """One `once` into moto S3: the config written for it and every row it landed."""
    client, bucket = s3_bucket
    output = {
        "type": "s3",
        "bucket": bucket,
        "prefix": "logs/slack",
        "region": "us-east-1",
        "endpoint_url": moto_endpoint,
    }
    config = write_config(tmp_path, slack, output)
    assert main(["once", "--config", config]) == 0
    capsys.readouterr()
    return config, [
        r for body in read_s3(client, bucket, "logs/slack/Slack.").values() for r in body
    ]


def land(slack: FakeSlack) -> None:
    t = now()
    events = [audit(i, t - 60 * i) for i in range(1, 40)]
    events.append(audit(500, t - 120, action="file_downloaded", details={"note": "Quarterly Plan"}))
    events[4]["context"]["ip_address"] = "198.51.100.23"
    events[9]["context"]["ip_address"] = "2001:db8::9"
    slack.add_audit(events)
    slack.add_access(
        [
            access("U0ACCESS1", "198.51.100.23", "Slack/1.0", t - 300),
            access("U0ACCESS2", "192.0.2.1", "Slack/1.0", t - 400),
        ]
    )
    slack.add_integration([integration(3, t - 200)])


def search(config: str, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["search", "--config", config, *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def rows(text: str) -> list[dict[str, Any]]:
    """The rows of a JSON answer, without the last line a cut answer adds (`cut`)."""
    out = [orjson.loads(line) for line in text.splitlines() if line.strip()]
    return [r for r in out if "cut" not in r]


def expected(landed: list[dict[str, Any]], keep: Any) -> set[str]:
    return {r["p_row_id"] for r in landed if keep(r)}


@pytest.fixture
def local(slack: FakeSlack, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    land(slack)
    config = write_config(tmp_path, slack, {"type": "local", "path": str(tmp_path / "out")})
    assert main(["once", "--config", config]) == 0
    capsys.readouterr()
    return config


def test_local_search_by_ip_cidr_email_user_and_text(
    local: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    landed = [r for r in read_local(tmp_path / "out") if "p_event_time" in r]
    assert len(landed) == 43

    def ips(r: dict[str, Any]) -> list[str]:
        return r.get("p_any_ip_addresses", [])

    cases = {
        "198.51.100.23": lambda r: "198.51.100.23" in ips(r),
        "203.0.113.0/28": lambda r: any(
            ip.startswith("203.0.113.") and int(ip.rsplit(".", 1)[1]) < 16 for ip in ips(r)
        ),
        "2001:db8::/64": lambda r: "2001:db8::9" in ips(r),
        "USER7@example.com": lambda r: "user7@example.com" in r.get("p_any_emails", []),
        "W000012": lambda r: r.get("actor", {}).get("user", {}).get("id") == "W000012",
        "U0ACCESS2": lambda r: r.get("user_id") == "U0ACCESS2",
        "quarterly plan": lambda r: "Quarterly Plan" in orjson.dumps(r).decode(),
    }
    for indicator, keep in cases.items():
        code, out, err = search(local, capsys, "--format", "json", indicator)
        assert code == 0, err
        found = rows(out)
        want = expected(landed, keep)
        assert want, indicator
        assert {r["p_row_id"] for r in found} == want, indicator
        assert found == sorted(found, key=lambda r: r["p_event_time"], reverse=True)
        by_id = {r["p_row_id"]: r for r in landed}
        assert all(r == by_id[r["p_row_id"]] for r in found), "full rows, as landed"


def test_table_output_names_time_type_source_details_and_match(
    local: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = search(local, capsys, "198.51.100.23")
    assert code == 0
    header, *lines = out.splitlines()
    assert header.split()[:4] == ["TIME", "LOG", "TYPE", "SOURCE"]
    assert len(lines) == 2
    access_line = next(line for line in lines if "Slack.AccessLogs" in line)
    assert (
        "ip:198.51.100.23" in access_line and "U0ACCESS1" in access_line and "acme" in access_line
    )
    audit_line = next(line for line in lines if "Slack.AuditLogs" in line)
    assert "user_login" in audit_line and "user5@example.com" in audit_line


def test_log_type_limit_and_window_filters(local: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = search(
        local, capsys, "--format", "json", "--log-type", "access", "198.51.100.23"
    )
    assert code == 0 and [r["p_log_type"] for r in rows(out)] == ["Slack.AccessLogs"]
    code, out, _ = search(local, capsys, "--format", "json", "--limit", "3", "203.0.113.0/24")
    assert code == 0 and len(rows(out)) == 3
    cut = orjson.loads(out.splitlines()[-1])["cut"]
    assert cut["shown"] == 3 and cut["total"] == 38 and "--all" in cut["all_of_them"]
    code, out, _ = search(local, capsys, "--format", "json", "--since", "15m", "203.0.113.0/24")
    times = [r["date_create"] for r in rows(out) if "date_create" in r]
    assert code == 0 and times and min(times) >= now() - 15 * 60 - 2
    assert len(times) < 39


def test_empty_or_missing_output_is_a_clear_error(
    slack: FakeSlack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, slack, {"type": "local", "path": str(tmp_path / "nothing")})
    code, _, err = search(config, capsys, "198.51.100.23")
    assert code == 1 and "nothing landed under" in err and "[output]" in err
    code, _, err = search(config, capsys, "ip:999.1.1.1")
    assert code == 2 and "not an IP address" in err


def test_unreadable_object_is_reported(
    local: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Whether the object is scanned (it has no index) or only its shown rows are read."""
    access = tmp_path / "out" / "slack" / "Slack.AccessLogs"
    [indexed] = access.rglob("*.json.gz")
    indexed.write_bytes(b"not gzip at all")
    code, _, err = search(local, capsys, "198.51.100.23")
    assert code == 1 and "cannot read" in err
    for index in (tmp_path / "out" / "slack" / "_index").rglob("*.parquet"):
        index.unlink()
    code, _, err = search(local, capsys, "203.0.113.0/24")
    assert code == 1 and "cannot read" in err


def test_hourly_and_daily_partitions_side_by_side(
    local: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """#12 may make access logs daily: both layouts in one log type are searched."""
    hourly = next((tmp_path / "out" / "slack" / "Slack.AccessLogs").rglob("*.json.gz"))
    body = [orjson.loads(x) for x in gzip.decompress(hourly.read_bytes()).splitlines()]
    daily = hourly.parent.parent / "daily-copy.json.gz"
    [original] = [r for r in body if r.get("user_id") == "U0ACCESS1"]
    moved = {**original, "p_row_id": "d" * 32}
    daily.write_bytes(gzip.compress(orjson.dumps(moved) + b"\n"))
    code, out, err = search(local, capsys, "--format", "json", "U0ACCESS1")
    assert code == 0, err
    assert {r["p_row_id"] for r in rows(out)} == {original["p_row_id"], "d" * 32}


def test_s3_search_matches_what_landed_in_moto(
    slack: FakeSlack,
    tmp_path: Path,
    s3_bucket: tuple[Any, str],
    moto_endpoint: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    land(slack)
    config, landed = once_to_s3(slack, tmp_path, s3_bucket, moto_endpoint, capsys)
    assert len(landed) == 43
    for indicator, keep in {
        "198.51.100.23": lambda r: "198.51.100.23" in r.get("p_any_ip_addresses", []),
        "user9@example.com": lambda r: "user9@example.com" in r.get("p_any_emails", []),
    }.items():
        code, out, err = search(config, capsys, "--format", "json", indicator)
        assert code == 0, err
        assert {r["p_row_id"] for r in rows(out)} == expected(landed, keep)


def test_all_streams_every_match_newest_first_as_found(
    local: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--all` (or `--limit 0`): every match, newest first, table or NDJSON, printed in
    chunks as partitions are read, never held together; the same rows as a search whose
    limit holds them all."""
    from connector.cli import search as cli_search

    code, out, _ = search(local, capsys, "--format", "json", "--limit", "1000", "203.0.113.0/24")
    everything = rows(out)
    assert code == 0 and len(everything) == 38
    for flag in (["--all"], ["--limit", "0"]):
        code, out, err = search(local, capsys, "--format", "json", *flag, "203.0.113.0/24")
        streamed = rows(out)
        assert code == 0 and "38 matching event(s)" in err
        assert {r["p_row_id"] for r in streamed} == {r["p_row_id"] for r in everything}
        times = [r["p_event_time"] for r in streamed]
        assert times == sorted(times, reverse=True) and "cut" not in out
    monkeypatch.setattr(cli_search, "EXPORT_CHUNK", 5)
    code, out, err = search(local, capsys, "--all", "203.0.113.0/24")
    lines = out.splitlines()
    assert code == 0 and lines[0].split()[:2] == ["TIME", "LOG"] and len(lines) == 39
    assert sum(line.startswith("TIME") for line in lines) == 1
