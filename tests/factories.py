"""Builders for realistic Slack records, so tests say only what matters to them."""

from __future__ import annotations

import time
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
