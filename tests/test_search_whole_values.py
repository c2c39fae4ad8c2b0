"""A search returns every record holding the indicator as a whole value, in any field,
whether the objects have an index (written as they land), only some do, or none.

The rows are landed by the real pipeline (`once` against the fake Slack) into local
output and into moto S3; the expected set is computed here by walking every value of
every landed row, independently of `Indicator.matches`. The issue's miss: an email held
outside the fields the schema marks as indicators (`details`) was not returned, though it
was in the row; the same for an IP in `details` and an IPv6 address spelled otherwise.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson
import pytest

from connector.cli.main import main
from tests.conftest import read_local
from tests.factories import audit, now
from tests.fakes.slack_server import FakeSlack
from tests.test_search import once_to_s3, write_config

Row = dict[str, Any]


def land(slack: FakeSlack) -> None:
    t = now()
    events = [audit(i, t - 60 * i) for i in range(1, 30)]
    events += [
        audit(40, t - 100, action="user_invited", details={"invitee": "USER7@Example.COM"}),
        audit(
            41, t - 110, action="file_shared", details={"shared_with": ["x", "user7@example.com"]}
        ),
        audit(42, t - 120, details={"origin_ip": "198.51.100.99"}),
        audit(43, t - 130, details={"peer": "2001:0DB8:0:0::9"}),
        audit(
            44, t - 140, details={"link": "https://Evil.Example/payload", "host": "evil.example"}
        ),
        audit(45, t - 150, details={"note": "contact user7@example.com.au or x-user7@example.com"}),
        audit(46, t - 160, details={"url": "HTTPS://EVIL.EXAMPLE/payload"}),
        audit(47, t - 170, details={"url": "https://evil.example/Payload"}),
    ]
    events[3]["context"]["ip_address"] = "198.51.100.99"
    events[8]["context"]["ip_address"] = "2001:db8::9"
    events[10]["actor"]["user"]["email"] = "ops@EVIL.example"
    slack.add_audit(events)


def values(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for v in node.values():
            yield from values(v)
    elif isinstance(node, list):
        for v in node:
            yield from values(v)


def ip_is(address: str) -> Callable[[str], bool]:
    want = ipaddress.ip_address(address)

    def check(value: str) -> bool:
        try:
            return ipaddress.ip_address(value) == want
        except ValueError:
            return False

    return check


CASES: dict[str, Callable[[str], bool]] = {
    "User7@example.com": lambda v: v.lower() == "user7@example.com",
    "198.51.100.99": ip_is("198.51.100.99"),
    "2001:db8:0::9": ip_is("2001:db8::9"),
    "evil[.]example": lambda v: (
        "evil.example" in (v.lower(), v.lower().rpartition("@")[2], urlsplit(v.lower()).hostname)
    ),
    "hxxps://evil[.]example/payload": lambda v: (
        v[:21].lower() + v[21:] == "https://evil.example/payload"
    ),
}


def holding(landed: list[Row], value_is: Callable[[str], bool]) -> set[str]:
    return {r["p_row_id"] for r in landed if any(value_is(v) for v in values(r))}


def check_every_holder(config: str, landed: list[Row], capsys: pytest.CaptureFixture[str]) -> None:
    for typed, value_is in CASES.items():
        want = holding(landed, value_is)
        assert len(want) >= 2, typed
        assert main(["search", "--config", config, "--format", "json", "--summary", typed]) == 0
        head, *found = orjson.loads("[" + ",".join(capsys.readouterr().out.splitlines()) + "]")
        assert {r["p_row_id"] for r in found} == want, typed
        [summary] = head["summary"]
        assert summary["events"] == len(want) and summary["complete"]
        times = sorted(r["p_event_time"] for r in landed if r["p_row_id"] in want)
        assert (summary["first_seen"], summary["last_seen"]) == (times[0], times[-1])
        assert main(["search", "--config", config, "--limit", "1", typed]) == 0  # no tallies
        assert f"1 of {len(want)} matching event(s)" in capsys.readouterr().err, typed


def test_local_search_returns_every_row_holding_the_value(
    slack: FakeSlack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    land(slack)
    config = write_config(tmp_path, slack, {"type": "local", "path": str(tmp_path / "out")})
    assert main(["once", "--config", config]) == 0
    capsys.readouterr()
    landed = read_local(tmp_path / "out")
    email_fields = {e for r in landed for e in r.get("p_any_emails", [])}
    assert "user7@example.com" in email_fields, "the schema's field holds it too"
    outside = [r for r in landed if "user7@example.com" not in r.get("p_any_emails", [])]
    assert holding(outside, CASES["User7@example.com"]), "and some rows hold it elsewhere"
    indexes = sorted((tmp_path / "out").rglob("*.parquet"))
    assert len(indexes) == len(list((tmp_path / "out").rglob("*.json.gz")))
    check_every_holder(config, landed, capsys)
    for index in indexes[::2]:
        index.unlink()
    check_every_holder(config, landed, capsys)
    for index in indexes[1::2]:
        index.unlink()
    check_every_holder(config, landed, capsys)


def test_s3_search_returns_every_row_holding_the_value(
    slack: FakeSlack,
    tmp_path: Path,
    s3_bucket: tuple[Any, str],
    moto_endpoint: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    land(slack)
    config, landed = once_to_s3(slack, tmp_path, s3_bucket, moto_endpoint, capsys)
    check_every_holder(config, landed, capsys)
