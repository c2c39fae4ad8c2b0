"""Builders for realistic Slack records and for config files, so tests say only what
matters to them."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def now() -> int:
    return int(time.time())


def audit(i: int, ts: int, action: str = "user_login", **extra: Any) -> dict[str, Any]:
    return {
        "id": f"0123a45b-{i:04d}-8900-e12f-3456789gh0i1",
        "date_create": ts,
        "action": action,
        "actor": {
            "type": "user",
            "user": {"id": f"W{i:06d}", "name": f"user{i}", "email": f"user{i}@example.com"},
        },
        "entity": {"type": "user", "user": {"id": f"W{i:06d}", "name": f"user{i}"}},
        "context": {
            "location": {"type": "enterprise", "id": "E1701NCCA", "name": "Birdland"},
            "ua": "Mozilla/5.0",
            "ip_address": f"203.0.113.{i % 250}",
            "session_id": 913888259765 + i,
        },
        **extra,
    }


def access(user: str, ip: str, ua: str, first: int, last: int | None = None) -> dict[str, Any]:
    return {
        "user_id": user,
        "username": user.lower(),
        "date_first": first,
        "date_last": last if last is not None else first,
        "count": 1,
        "ip": ip,
        "user_agent": ua,
        "isp": "BigCo ISP",
        "country": "US",
        "region": "CA",
    }


def integration(i: int, ts: int, change: str = "added") -> dict[str, Any]:
    row: dict[str, Any] = {
        "user_id": f"U{i:05d}",
        "user_name": f"admin{i}",
        "date": str(ts),
        "change_type": change,
        "scope": "chat:write",
    }
    if i % 2:
        row.update(service_id=1000 + i, service_type="Google Calendar")
    else:
        row.update(app_id=f"A{i:05d}", app_type="App")
    return row


# --------------------------------------------------------------------------- config files
def cli_source(slack: Any | None, id: str = "acme", **fields: Any) -> dict[str, Any]:
    """A `[[sources]]` table for a config file on the fake Slack: audit only, unthrottled.
    A field given as None is left out (the connector's default applies)."""
    from tests.conftest import TOKEN_ENV

    return {
        "id": id,
        "token_env": TOKEN_ENV,
        "log_types": ["audit"],
        "audit_api_url": slack.audit_api_url if slack is not None else None,
        "audit_calls_per_minute": 100_000,
        **fields,
    }


def config_file(
    tmp_path: Path, *sources: Mapping[str, Any], name: str = "config.toml", **tables: Any
) -> Path:
    """A config file for the CLI or a daemon child process, written under `tmp_path`.

    SQLite state at `tmp_path/state.db` and local output under `tmp_path/out` unless `state`
    or `output` say otherwise; other tables (`metrics`, `daemon`, ...) as given, a table
    given as None left out. Values are rendered as TOML, so paths and URLs need no quoting.
    """
    path = tmp_path / name
    path.write_text(
        config_toml(
            {
                "state": {"path": str(tmp_path / "state.db")},
                "output": {"type": "local", "path": str(tmp_path / "out")},
                **tables,
                "sources": list(sources),
            }
        ),
        encoding="utf-8",
    )
    return path


def config_toml(tables: Mapping[str, Any]) -> str:
    """TOML for a config: a `[table]` per mapping, `[[name]]` per item of a list of
    mappings; nested mappings inline (`client_secret = { env = "X" }`); None left out."""
    out: list[str] = []
    for name, table in tables.items():
        if isinstance(table, Mapping):
            out += [f"[{name}]", *_pairs(table), ""]
        elif isinstance(table, list):
            for item in table:
                out += [f"[[{name}]]", *_pairs(item), ""]
        elif table is not None:
            raise TypeError(f"{name}: a config table is a mapping or a list of them")
    return "\n".join(out)


def _pairs(table: Mapping[str, Any]) -> list[str]:
    return [f"{_key(k)} = {_value(v)}" for k, v in table.items() if v is not None]


def _key(key: str) -> str:
    return key if key.replace("_", "").replace("-", "").isalnum() else json.dumps(key)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str | Path):
        return json.dumps(str(value))  # a JSON string is a TOML basic string
    if isinstance(value, Mapping):
        return "{ " + ", ".join(_pairs(value)) + " }"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    raise TypeError(f"no TOML for {type(value).__name__}")


def anomaly(
    i: int,
    ts: int,
    reasons: Any = ("asn", "ip_address"),
    *,
    email: str = "alice@example.com",
    ip: str = "203.0.113.170",
    **details: Any,
) -> dict[str, Any]:
    """Slack's anomaly event as it arrives: `details.reason` an array of codes and
    `details.action_timestamp` in microseconds, a little before `date_create`."""
    event = audit(i, ts, "anomaly")
    user = {"id": f"W{i:06d}", "name": email.split("@")[0], "email": email, "team": "E1"}
    event["actor"] = {"type": "user", "user": user}
    event["entity"] = {"type": "user", "user": dict(user)}
    event["context"]["ip_address"] = ip
    event["details"] = {
        "action_timestamp": (ts - 52) * 1_000_000 + 590_746,
        "location": "Test Region, ZZ",
        "previous_ip_address": "203.0.113.160",
        "previous_ua": "Slack/4.40",
        "ip_address_details": ["new-asn"],
        **({"reason": list(reasons)} if isinstance(reasons, tuple | list) else {"reason": reasons}),
        **details,
    }
    if reasons is None:
        del event["details"]["reason"]
    return event
