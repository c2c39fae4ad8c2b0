"""Proves the fake Slack server behaves as documented, over real sockets with httpx.

Integration tests trust the fake; these tests are why they may.
"""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

try:  # works whether or not tests/ is a package
    from tests.fakes.slack_server import FakeSlack
except ModuleNotFoundError:
    from fakes.slack_server import FakeSlack

TOKEN = "xoxp-test-token"
OTHER = "xoxp-other-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
# Plain HTTP only, but every httpx client builds a TLS context (~90 ms with CA loading);
# sharing one keeps the whole file fast.
TLS = ssl.create_default_context()


def new_client(**kw: Any) -> httpx.Client:
    return httpx.Client(verify=TLS, timeout=3, **kw)


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack((TOKEN, OTHER), seed=7) as server:
        yield server


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with new_client(headers=AUTH) as c:
        yield c


@pytest.fixture
def anon() -> Iterator[httpx.Client]:
    """A client that sends no Authorization header unless told to."""
    with new_client() as c:
        yield c


def event(
    n: int, date: int, *, action: str = "user_login", actor: str = "W1", entity: str = "C1"
) -> dict[str, Any]:
    return {
        "id": f"ev-{n}",
        "date_create": date,
        "action": action,
        "actor": {"type": "user", "user": {"id": actor, "name": "a/b"}},
        "entity": {"type": "channel", "channel": {"id": entity, "name": "general"}},
        "context": {"ua": "Mozilla/5.0", "ip_address": "1.2.3.4"},
    }


def logs(client: httpx.Client, fake: FakeSlack, **params: Any) -> httpx.Response:
    return client.get(f"{fake.audit_api_url}logs", params=params)


def drain(client: httpx.Client, fake: FakeSlack, **params: Any) -> tuple[list[str], list[int]]:
    """Follow next_cursor to the end, resending `params` on every page."""
    ids: list[str] = []
    sizes: list[int] = []
    cursor = ""
    for _ in range(1000):
        response = logs(client, fake, **params, **({"cursor": cursor} if cursor else {}))
        assert response.status_code == 200, response.text
        body = response.json()
        ids += [e["id"] for e in body["entries"]]
        sizes.append(len(body["entries"]))
        cursor = body.get("response_metadata", {}).get("next_cursor", "")
        if not cursor:
            return ids, sizes
    raise AssertionError("cursor never ended")


def web(client: httpx.Client, fake: FakeSlack, method: str, **params: Any) -> dict[str, Any]:
    response = client.get(f"{fake.web_api_url}{method}", params=params)
    assert response.status_code == 200
    result: dict[str, Any] = response.json()
    return result


def access_row(user: str, ip: str | None, first: int, last: int, count: int = 1) -> dict[str, Any]:
    return {
        "user_id": user,
        "username": user.lower(),
        "date_first": first,
        "date_last": last,
        "count": count,
        "ip": ip,
        "user_agent": "UA",
        "isp": None,
        "country": None,
        "region": None,
    }


# ---------------------------------------------------------------- Audit API: paging


def test_audit_newest_first_with_url_encoded_cursor(fake: FakeSlack, client: httpx.Client) -> None:
    fake.add_audit(event(n, 1000 + n) for n in (3, 1, 4, 0, 2))
    first = logs(client, fake, limit=2)
    body = first.json()
    assert "ok" not in body
    assert [e["id"] for e in body["entries"]] == ["ev-4", "ev-3"]
    cursor = body["response_metadata"]["next_cursor"]
    assert {"+", "/", "="} <= set(cursor)
    # httpx percent-encodes the cursor, and the server decodes it back.
    assert "%2B" in str(logs(client, fake, limit=2, cursor=cursor).request.url)
    assert drain(client, fake, limit=2) == (["ev-4", "ev-3", "ev-2", "ev-1", "ev-0"], [2, 2, 1])


def test_unencoded_or_bogus_cursor_is_invalid(fake: FakeSlack, client: httpx.Client) -> None:
    fake.add_audit(event(n, 1000 + n) for n in range(3))
    cursor = logs(client, fake, limit=1).json()["response_metadata"]["next_cursor"]
    raw = client.get(f"{fake.audit_api_url}logs?limit=1&cursor={cursor}")  # "+" becomes " "
    assert raw.status_code == 400
    assert raw.json() == {"ok": False, "error": "invalid_cursor"}
    assert logs(client, fake, cursor="bm9wZQ==").status_code == 400


def test_cursor_does_not_remember_oldest(fake: FakeSlack, client: httpx.Client) -> None:
    fake.add_audit(event(n, 1000 + n) for n in range(10))
    assert drain(client, fake, oldest=1005, limit=2)[0] == [f"ev-{n}" for n in range(9, 4, -1)]
    first = logs(client, fake, oldest=1005, limit=2).json()
    cursor = first["response_metadata"]["next_cursor"]
    ids = [e["id"] for e in first["entries"]]
    while cursor:  # a client that forgets to resend `oldest`
        page = logs(client, fake, limit=2, cursor=cursor).json()
        ids += [e["id"] for e in page["entries"]]
        cursor = page["response_metadata"]["next_cursor"]
    assert ids == [f"ev-{n}" for n in range(9, -1, -1)]


def test_same_second_burst_spans_pages_without_loss(fake: FakeSlack, client: httpx.Client) -> None:
    fake.add_audit([event(0, 999), *(event(n, 1000) for n in range(1, 26)), event(26, 1001)])
    ids, sizes = drain(client, fake, limit=10)
    assert sizes == [10, 10, 7]
    assert ids == ["ev-26", *(f"ev-{n}" for n in range(25, 0, -1)), "ev-0"]
    assert drain(client, fake, oldest=1000, latest=1000, limit=4)[0] == [
        f"ev-{n}" for n in range(25, 0, -1)
    ]


def test_audit_max_page_short_pages_and_missing_metadata(
    fake: FakeSlack, client: httpx.Client
) -> None:
    fake.add_audit(event(n, 1000 + n // 3) for n in range(40))
    every = [f"ev-{n}" for n in range(39, -1, -1)]
    fake.audit_max_page = 7
    ids, sizes = drain(client, fake, limit=1000)
    assert ids == every
    assert sizes == [7, 7, 7, 7, 7, 5]
    fake.short_pages = True
    ids, sizes = drain(client, fake, limit=10)
    assert ids == every
    assert len(set(sizes[:-1])) > 1 and max(sizes) <= 7 and min(sizes) >= 1
    fake.short_pages, fake.audit_max_page = False, None
    fake.omit_metadata_on_last_page = True
    body = logs(client, fake, limit=100).json()
    assert len(body["entries"]) == 40 and "response_metadata" not in body


def test_audit_filters_and_limit_bounds(fake: FakeSlack, client: httpx.Client) -> None:
    fake.add_audit(
        [
            event(1, 1001, action="user_login", actor="W1", entity="C1"),
            event(2, 1002, action="file_downloaded", actor="W2", entity="C1"),
            event(3, 1003, action="user_login", actor="W2", entity="C2"),
        ]
    )

    def ids(**p: Any) -> list[str]:
        return [e["id"] for e in logs(client, fake, **p).json()["entries"]]

    assert ids(action="user_login") == ["ev-3", "ev-1"]
    assert ids(actor="W2") == ["ev-3", "ev-2"]
    assert ids(entity="C1", actor="W2") == ["ev-2"]
    assert ids(latest=1002) == ["ev-2", "ev-1"]
    assert ids() == ["ev-3", "ev-2", "ev-1"]  # default limit 100
    for bad in (0, 10000):
        response = logs(client, fake, limit=bad)
        assert (response.status_code, response.json()["error"]) == (400, "invalid_limit")
    assert logs(client, fake, limit=9999).status_code == 200


def test_audit_auth_401_variants(fake: FakeSlack, anon: httpx.Client) -> None:
    url = f"{fake.audit_api_url}logs"
    none = anon.get(url)
    assert (none.status_code, none.content) == (401, b"")
    bad = anon.get(url, headers={"Authorization": "Bearer xoxp-nope"})
    assert (bad.status_code, bad.json()) == (401, {"ok": False, "error": "invalid_auth"})
    assert anon.get(url, headers={"Authorization": f"Bearer {OTHER}"}).status_code == 200
    fake.revoke(OTHER)
    revoked = anon.get(url, headers={"Authorization": f"Bearer {OTHER}"})
    assert (revoked.status_code, revoked.json()["error"]) == (401, "invalid_auth")
    assert anon.get(url, headers=AUTH).status_code == 200


# ---------------------------------------------------------------- Web API: auth and encoding


def test_web_auth_errors_unknown_method_and_post(
    fake: FakeSlack, client: httpx.Client, anon: httpx.Client
) -> None:
    url = f"{fake.web_api_url}team.accessLogs"
    assert anon.get(url).json() == {"ok": False, "error": "not_authed"}
    assert anon.get(url, headers={"Authorization": "Bearer x"}).json()["error"] == "invalid_auth"
    fake.revoke(TOKEN)
    revoked = client.post(url, data={"count": "5"})
    assert (revoked.status_code, revoked.json()["error"]) == (200, "token_revoked")
    other = {"Authorization": f"Bearer {OTHER}"}
    posted = anon.post(url, headers=other, data={"count": "5", "page": "2"})
    assert posted.json()["paging"] == {"count": 5, "total": 0, "page": 2, "pages": 1}
    assert fake.requests[-1].params == {"count": "5", "page": "2"}
    assert anon.get(f"{fake.web_api_url}chat.postMessage", headers=other).json() == {
        "ok": False,
        "error": "unknown_method",
    }


def test_web_json_escapes_slashes(fake: FakeSlack, client: httpx.Client) -> None:
    fake.add_access([access_row("U1", "10.0.0.1", 1, 2) | {"user_agent": "Mozilla/5.0"}])
    response = client.get(f"{fake.web_api_url}team.accessLogs")
    assert "Mozilla\\/5.0" in response.text
    assert response.json()["logins"][0]["user_agent"] == "Mozilla/5.0"
    fake.add_audit([event(1, 1000)])
    assert '"a/b"' in logs(client, fake).text  # audit JSON is plain


# ---------------------------------------------------------------- faults


def test_fail_next_429_is_fifo_and_counted(fake: FakeSlack, client: httpx.Client) -> None:
    fake.add_audit([event(1, 1000)])
    fake.fail_next("logs", "429", times=2, retry_after=3)
    fake.fail_next("logs", "html500", status=503)
    for _ in range(2):
        limited = logs(client, fake)
        assert limited.status_code == 429
        assert limited.headers["retry-after"] == "3"
        assert limited.json() == {"ok": False, "error": "ratelimited"}
    html = logs(client, fake)
    assert html.status_code == 503 and html.headers["content-type"].startswith("text/html")
    assert html.text.startswith("<html>")
    assert logs(client, fake).status_code == 200
    assert [r.status for r in fake.requests] == [429, 429, 503, 200]
    # a fault for one method never leaks into another
    fake.fail_next("team.integrationLogs", "429")
    assert web(client, fake, "team.accessLogs")["ok"] is True
    assert client.get(f"{fake.web_api_url}team.integrationLogs").status_code == 429


@pytest.mark.parametrize("method", ["logs", "team.accessLogs", "team.integrationLogs"])
def test_truncated_and_garbage_bodies(fake: FakeSlack, client: httpx.Client, method: str) -> None:
    fake.add_audit(event(n, 1000 + n) for n in range(5))
    fake.add_access([access_row("U1", "10.0.0.1", 1, 2)])
    url = f"{fake.audit_api_url}logs" if method == "logs" else f"{fake.web_api_url}{method}"
    full = client.get(url).content
    fake.fail_next(method, "truncated")
    fake.fail_next(method, "garbage")
    truncated = client.get(url)
    assert truncated.status_code == 200
    assert truncated.content == full[: len(full) // 2]
    assert truncated.headers["content-length"] == str(len(truncated.content))
    with pytest.raises(json.JSONDecodeError):
        truncated.json()
    garbage = client.get(url)
    assert garbage.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        garbage.json()
    assert client.get(url).content == full  # same keep-alive connection still in sync


def test_reset_raises_transport_error_then_recovers(fake: FakeSlack, client: httpx.Client) -> None:
    assert logs(client, fake).status_code == 200  # leaves a pooled keep-alive connection
    fake.fail_next("logs", "reset")
    with pytest.raises(httpx.TransportError):
        logs(client, fake)
    assert fake.requests[-1].status == 0
    assert logs(client, fake).status_code == 200


def test_slow_then_ok_false_and_401(fake: FakeSlack, client: httpx.Client) -> None:
    fake.fail_next("logs", "slow", seconds=0.5)
    with pytest.raises(httpx.ReadTimeout):
        client.get(f"{fake.audit_api_url}logs", timeout=0.1)
    assert fake.count("logs") == 1  # recorded on arrival, though never answered in time
    fake.fail_next("logs", "slow", seconds=0.05)
    assert logs(client, fake).json() == {"entries": [], "response_metadata": {"next_cursor": ""}}
    fake.fail_next("logs", "ok_false", error="feature_not_enabled")
    fake.fail_next("logs", "ok_false", error="missing_scope", status=403)
    fake.fail_next("logs", "401")
    assert logs(client, fake).status_code == 400
    forbidden = logs(client, fake)
    assert (forbidden.status_code, forbidden.json()["error"]) == (403, "missing_scope")
    unauthorized = logs(client, fake)
    assert (unauthorized.status_code, unauthorized.content) == (401, b"")
    fake.fail_next("team.accessLogs", "ok_false", error="fatal_error")
    fake.fail_next("team.accessLogs", "401")
    assert web(client, fake, "team.accessLogs") == {"ok": False, "error": "fatal_error"}
    assert client.get(f"{fake.web_api_url}team.accessLogs").status_code == 401
    with pytest.raises(ValueError):
        fake.fail_next("logs", "explode")
    with pytest.raises(ValueError):
        fake.fail_next("audit", "429")


def test_set_error_persists_until_cleared(fake: FakeSlack, client: httpx.Client) -> None:
    fake.set_error("team.integrationLogs", "paid_only")
    fake.set_error("logs", "feature_not_enabled")
    for _ in range(2):
        assert web(client, fake, "team.integrationLogs") == {"ok": False, "error": "paid_only"}
        response = logs(client, fake)
        assert (response.status_code, response.json()["error"]) == (400, "feature_not_enabled")
    assert web(client, fake, "team.accessLogs")["ok"] is True
    fake.set_error("logs", "token_expired")
    assert logs(client, fake).status_code == 401
    fake.set_error("logs", None)
    fake.set_error("team.integrationLogs", None)
    assert logs(client, fake).status_code == 200
    assert web(client, fake, "team.integrationLogs")["ok"] is True


# ---------------------------------------------------------------- team.accessLogs


def test_access_paging_and_limits(fake: FakeSlack, client: httpx.Client) -> None:
    fake.add_access(access_row(f"U{n}", f"10.0.0.{n}", n, 100 + n) for n in range(25))
    page1 = web(client, fake, "team.accessLogs", count=10)
    assert page1["paging"] == {"count": 10, "total": 25, "page": 1, "pages": 3}
    assert [r["user_id"] for r in page1["logins"]][:2] == ["U24", "U23"]
    page3 = web(client, fake, "team.accessLogs", count=10, page=3)
    assert [r["user_id"] for r in page3["logins"]] == [f"U{n}" for n in range(4, -1, -1)]
    assert page3["logins"][0]["ip"] == "10.0.0.4" and page3["logins"][0]["isp"] is None
    assert web(client, fake, "team.accessLogs")["paging"]["count"] == 100
    for params in ({"count": 1001}, {"page": 101}):
        assert web(client, fake, "team.accessLogs", **params)["error"] == "over_pagination_limit"
    assert web(client, fake, "team.accessLogs", count=1000, page=100)["logins"] == []


def test_access_cursor_mode(fake: FakeSlack, client: httpx.Client) -> None:
    fake.add_access(access_row(f"U{n}", None, n, 100 + n) for n in range(5))
    seen: list[str] = []
    cursor = ""
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        body = web(client, fake, "team.accessLogs", **params)
        seen += [r["user_id"] for r in body["logins"]]
        cursor = body["response_metadata"]["next_cursor"]
        if not cursor:
            break
    assert seen == ["U4", "U3", "U2", "U1", "U0"]
    assert web(client, fake, "team.accessLogs", cursor="junk")["error"] == "invalid_cursor"


def test_access_before_filter_and_sort_knobs(fake: FakeSlack, client: httpx.Client) -> None:
    fake.add_access(
        [access_row("A", "1", 10, 50), access_row("B", "2", 30, 40), access_row("C", "3", 20, 60)]
    )

    def users(**p: Any) -> list[str]:
        return [r["user_id"] for r in web(client, fake, "team.accessLogs", **p)["logins"]]

    assert users() == ["C", "A", "B"]
    assert users(before=50) == ["A", "B"]  # inclusive, on date_last
    fake.access_sort_key = "date_first"
    assert users() == ["B", "C", "A"]
    fake.access_before_field = "date_first"
    assert users(before=20) == ["C", "A"]


def test_access_upsert_and_touch_mutate_aggregates(fake: FakeSlack, client: httpx.Client) -> None:
    fake.add_access([access_row("A", "1", 10, 50, count=3), access_row("B", "2", 20, 40)])
    fake.add_access([access_row("B", "2", 99, 70, count=9)])
    rows = web(client, fake, "team.accessLogs")["logins"]
    assert [(r["user_id"], r["date_first"], r["date_last"], r["count"]) for r in rows] == [
        ("B", 20, 70, 9),
        ("A", 10, 50, 3),
    ]
    fake.touch_access("A", "1", "UA", 80)
    fake.touch_access("A", "9.9.9.9", "UA", 75)  # new combination -> new row
    rows = web(client, fake, "team.accessLogs")["logins"]
    assert [(r["user_id"], r["ip"], r["date_last"], r["count"]) for r in rows] == [
        ("A", "1", 80, 4),
        ("A", "9.9.9.9", 75, 1),
        ("B", "2", 70, 9),
    ]
    assert rows[1]["username"] == "a" and rows[1]["date_first"] == 75


# ---------------------------------------------------------------- team.integrationLogs


def test_integration_order_paging_and_string_dates(fake: FakeSlack, client: httpx.Client) -> None:
    fake.add_integration(
        [
            {"app_id": "A1", "user_id": "U1", "date": "1500000002", "change_type": "added"},
            {"service_id": 7, "user_id": "U2", "date": "1500000001", "change_type": "removed"},
            {"app_id": "A2", "user_id": "U1", "date": "1500000003", "change_type": "added"},
        ]
    )
    body = web(client, fake, "team.integrationLogs", count=2)
    assert [log["date"] for log in body["logs"]] == ["1500000003", "1500000002"]
    assert body["paging"] == {"count": 2, "total": 3, "page": 1, "pages": 2}
    fake.integration_order = "oldest_first"
    body = web(client, fake, "team.integrationLogs", count=2, page=2)
    assert [log["date"] for log in body["logs"]] == ["1500000003"]
    assert web(client, fake, "team.integrationLogs", user="U2")["logs"][0]["service_id"] == 7
    assert web(client, fake, "team.integrationLogs", page=101)["error"] == "over_pagination_limit"


# ---------------------------------------------------------------- hooks and recording


def test_on_request_adds_events_mid_pagination(fake: FakeSlack, client: httpx.Client) -> None:
    fake.add_audit(event(n, 1000 + n) for n in range(6))
    calls: list[tuple[str, dict[str, str]]] = []

    def hook(method: str, params: dict[str, str]) -> None:
        calls.append((method, params))
        if len(calls) == 2:  # before page 2 is served: one newer, one older event arrive
            fake.add_audit([event(100, 2000), event(101, 1)])

    fake.on_request = hook
    ids, _ = drain(client, fake, limit=3)
    assert ids == ["ev-5", "ev-4", "ev-3", "ev-2", "ev-1", "ev-0", "ev-101"]
    assert calls[0] == ("logs", {"limit": "3"})
    assert "cursor" in calls[1][1]


def test_requests_are_recorded(fake: FakeSlack, client: httpx.Client, anon: httpx.Client) -> None:
    logs(client, fake, oldest=5)
    client.post(f"{fake.web_api_url}team.integrationLogs", data={"count": "3"}, params={"page": 1})
    anon.get(f"{fake.audit_api_url}logs")
    first, second, third = fake.requests
    assert (first.method, first.path, first.params, first.status, first.verb) == (
        "logs",
        "/audit/v1/logs",
        {"oldest": "5"},
        200,
        "GET",
    )
    assert first.headers["authorization"] == f"Bearer {TOKEN}"
    assert first.headers["Authorization"] == f"Bearer {TOKEN}"
    assert (second.method, second.params, second.verb) == (
        "team.integrationLogs",
        {"page": "1", "count": "3"},
        "POST",
    )
    assert third.status == 401 and "authorization" not in third.headers
    assert (fake.count("logs"), fake.count("team.integrationLogs"), fake.count("nope")) == (2, 1, 0)
    assert fake.server_errors == []


def test_concurrent_requests_and_stop(client: httpx.Client) -> None:
    fake = FakeSlack(seed=1).start()
    fake.add_audit(event(n, n) for n in range(50))
    url = f"{fake.audit_api_url}logs"
    statuses: list[int] = []

    def worker() -> None:
        with new_client(headers=AUTH) as c:
            statuses.extend(c.get(url, params={"limit": 5}).status_code for _ in range(10))

    threads = [threading.Thread(target=worker) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [200] * 50 and fake.count("logs") == 50
    assert client.get(url).status_code == 200
    fake.stop()
    with pytest.raises(httpx.TransportError):
        client.get(url)
    with pytest.raises(RuntimeError):
        _ = fake.base_url
