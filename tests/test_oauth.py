"""OAuth install flow and token rotation, over real sockets only.

The browser is simulated by an `opener` that does what Slack's consent page + a browser
would: read the authorize URL, then GET the redirect_uri with code and state. The token
endpoint is tests/fakes/oauth_server.py. freezegun drives connector.clock.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import os
import socket
import ssl
import stat
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from freezegun import freeze_time
from pydantic import SecretStr

from connector.credentials.refresh import TokenRefreshError, TokenRefreshTransientError, refresh
from connector.credentials.rotation import RotatingToken
from connector.logs import REDACTOR
from connector.oauth import (
    OAuthError,
    RedirectListener,
    authorize_url,
    check_token,
    code_from_redirect,
    exchange_code,
    run_install,
    user_scopes,
)
from connector.slack.errors import SlackAuthError, SlackTransientError
from connector.slack.tokenset import TokenSet
from connector.state.token_store import TokenFile, TokenFileError, default_token_path
from tests.fakes.oauth_server import FakeSlackOAuth

T = 1_800_000_000
DAY = 43_200  # Slack's expires_in with rotation on


def at(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


@pytest.fixture
def fake() -> Iterator[FakeSlackOAuth]:
    with FakeSlackOAuth() as server:
        yield server


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5.0) as client:
        yield client


def secret(fake: FakeSlackOAuth) -> SecretStr:
    return SecretStr(fake.client_secret)


class Browser:
    """Plays Slack's consent page and the browser: on `open(url)` it GETs the redirect_uri
    with `code` and the URL's state (or an override) from a thread, like a real redirect."""

    def __init__(self, auth_code: str = "", **override: str | None) -> None:
        self.code = auth_code
        self.override = override
        self.opened: list[str] = []
        self.responses: list[httpx.Response] = []
        self.done = threading.Event()

    def params_for(self, url: str) -> dict[str, str]:
        query = dict(parse_qsl(urlsplit(url).query))
        params = {"code": self.code, "state": query["state"]}
        for key, value in self.override.items():
            if value is None:
                params.pop(key, None)
            else:
                params[key] = value
        return params

    def __call__(self, url: str) -> bool:
        self.opened.append(url)
        redirect = dict(parse_qsl(urlsplit(url).query))["redirect_uri"]
        params = self.params_for(url)

        def go() -> None:
            try:
                self.responses.append(httpx.get(redirect, params=params, timeout=5))
            finally:
                self.done.set()

        threading.Thread(target=go, daemon=True).start()
        return True


def install(
    fake: FakeSlackOAuth,
    http: httpx.Client,
    browser: Browser,
    log_types: list[str] | None = None,
    **kw: Any,
) -> TokenSet:
    with RedirectListener(port=0) as listener:
        return run_install(
            http,
            client_id=fake.client_id,
            client_secret=secret(fake),
            log_types=log_types or ["audit"],
            redirect_uri=listener.redirect_uri,
            listener=listener,
            out=kw.pop("out", io.StringIO()),
            open_browser=True,
            opener=browser,
            timeout=5,
            authorize_base=kw.pop("authorize_base", "https://slack.example/oauth/v2/authorize"),
            token_url=fake.token_url,
            **kw,
        )


def stored(fake: FakeSlackOAuth, path: Path, *, expires_at: int) -> tuple[TokenFile, str, str]:
    """A token file as a finished install leaves it: a live pair from the fake."""
    access, refresh_token = fake.issue_pair()
    token_file = TokenFile(path)
    token_file.save(
        TokenSet(
            access_token=SecretStr(access),
            refresh_token=SecretStr(refresh_token),
            expires_at=expires_at,
            scopes=["auditlogs:read"],
            enterprise_id="E0FAKE",
            is_enterprise_install=True,
        )
    )
    return token_file, access, refresh_token


def rotating(fake: FakeSlackOAuth, token_file: TokenFile, **kw: Any) -> RotatingToken:
    return RotatingToken(
        token_file,
        client_id=fake.client_id,
        client_secret=secret(fake),
        token_url=fake.token_url,
        source_id="acme",
        **kw,
    )


def on_disk(path: Path) -> TokenSet:
    loaded = TokenFile(path).load()
    assert loaded is not None
    return loaded


# --------------------------------------------------------------------------- scopes and URL


def test_user_scopes_by_log_type() -> None:
    assert user_scopes(["audit"]) == ["auditlogs:read"]
    assert user_scopes(["access", "integration"]) == ["admin"]
    assert user_scopes(["integration", "audit", "access"]) == ["admin", "auditlogs:read"]
    with pytest.raises(OAuthError, match="unknown log type"):
        user_scopes(["bogus"])


def test_authorize_url_asks_for_user_scopes() -> None:
    url = authorize_url(
        "1111.2222", ["admin", "auditlogs:read"], "https://localhost:8765/cb?x=1", "st/ate+"
    )
    split = urlsplit(url)
    assert f"{split.scheme}://{split.netloc}{split.path}" == "https://slack.com/oauth/v2/authorize"
    params = dict(parse_qsl(split.query))
    assert params == {
        "client_id": "1111.2222",
        "user_scope": "admin,auditlogs:read",
        "redirect_uri": "https://localhost:8765/cb?x=1",
        "state": "st/ate+",
    }
    assert "scope" not in params  # bot scopes: never asked for


# --------------------------------------------------------------------------- full install


def test_install_end_to_end_and_token_stored(
    fake: FakeSlackOAuth, http: httpx.Client, tmp_path: Path
) -> None:
    code = fake.add_code()
    browser = Browser(code)
    out = io.StringIO()
    with freeze_time(at(T)):
        token_set = install(fake, http, browser, ["audit"], out=out)
    assert browser.done.wait(5)

    # The browser was shown the URL (printed and opened) and got the "close this tab" page.
    assert browser.opened and browser.opened[0] in out.getvalue()
    query = dict(parse_qsl(urlsplit(browser.opened[0]).query))
    assert query["user_scope"] == "auditlogs:read" and query["client_id"] == fake.client_id
    page = browser.responses[0]
    assert page.status_code == 200 and "close this tab" in page.text
    assert page.headers["content-type"].startswith("text/html")

    # The code was exchanged once, with client credentials as Basic auth, not in the form.
    [request] = fake.requests
    assert request.grant_type == "authorization_code" and request.basic_auth
    assert "client_secret" not in request.form and request.form["code"] == code
    assert request.form["redirect_uri"] == query["redirect_uri"]

    assert token_set.access_token.get_secret_value() == fake.latest_access_token
    assert token_set.refresh_token is not None
    assert token_set.expires_at == T + DAY
    assert token_set.scopes == ["auditlogs:read"] and token_set.token_type == "user"
    assert token_set.enterprise_id == "E0FAKE" and token_set.is_enterprise_install
    assert token_set.user_id == "U0FAKE"

    path = default_token_path(tmp_path / "state.db", "acme")
    assert path == tmp_path / "tokens" / "acme.json"
    TokenFile(path).save(token_set)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert on_disk(path).to_dict() == token_set.to_dict()
    assert [p.name for p in path.parent.iterdir()] == ["acme.json"]  # no tmp file left


def test_install_without_rotation_and_with_extra_bot_token(
    http: httpx.Client,
) -> None:
    with FakeSlackOAuth(
        rotation=False, with_bot_token=True, user_scopes=["admin"], is_enterprise_install=False
    ) as fake:
        browser = Browser(fake.add_code())
        token_set = install(fake, http, browser, ["access", "integration"])
    # The user token from authed_user wins over the top-level bot token.
    assert token_set.access_token.get_secret_value().startswith("xoxp-")
    assert token_set.refresh_token is None and token_set.expires_at is None
    assert token_set.scopes == ["admin"]


def test_install_paste_mode(fake: FakeSlackOAuth, http: httpx.Client) -> None:
    """No listener: the operator pastes the URL the browser landed on."""
    code = fake.add_code()

    class Terminal(io.StringIO):
        def readline(self, size: int | None = -1) -> str:  # type: ignore[override]
            url = next(w for w in self.getvalue().split() if w.startswith("https://slack"))
            state = dict(parse_qsl(urlsplit(url).query))["state"]
            return f"https://localhost:8765/slack/oauth/callback?code={code}&state={state}\n"

    terminal = Terminal()
    token_set = run_install(
        http,
        client_id=fake.client_id,
        client_secret=secret(fake),
        log_types=["audit"],
        redirect_uri="https://localhost:8765/slack/oauth/callback",
        out=terminal,
        stdin=terminal,
        paste=True,
        token_url=fake.token_url,
    )
    assert token_set.access_token.get_secret_value() == fake.latest_access_token
    assert "paste the full URL" in terminal.getvalue()


def test_code_from_redirect() -> None:
    assert code_from_redirect("https://localhost/cb?code=abc&state=s1", "s1") == "abc"
    assert code_from_redirect("?state=s1&code=abc", "s1") == "abc"
    assert code_from_redirect("code=abc&state=s1\n", "s1") == "abc"
    with pytest.raises(OAuthError, match=r"^state mismatch: "):
        code_from_redirect("https://localhost/cb?code=abc&state=s2", "s1")
    with pytest.raises(OAuthError, match=r"^access_denied"):
        code_from_redirect("https://localhost/cb?error=access_denied&state=s1", "s1")
    with pytest.raises(OAuthError, match="no code"):
        code_from_redirect("https://localhost/cb?state=s1", "s1")


# --------------------------------------------------------------------------- the listener


@pytest.mark.parametrize(
    ("override", "detail"),
    [({"state": "forged-state"}, "different state"), ({"state": None}, "no state")],
)
def test_a_forged_redirect_gets_400_and_the_install_goes_on(
    fake: FakeSlackOAuth, http: httpx.Client, override: dict[str, str | None], detail: str
) -> None:
    browser = Browser(fake.add_code())
    forged: list[httpx.Response] = []

    def forge_then_redirect(url: str) -> bool:
        redirect = dict(parse_qsl(urlsplit(url).query))["redirect_uri"]
        params = {"code": "forged-code", **{k: v for k, v in override.items() if v}}
        forged.append(httpx.get(redirect, params=params, timeout=5))
        return browser(url)

    token_set = install(fake, http, forge_then_redirect)  # type: ignore[arg-type]
    assert forged[0].status_code == 400
    assert "state mismatch" in forged[0].text and detail in forged[0].text
    assert browser.done.wait(5) and browser.responses[0].status_code == 200
    assert token_set.scopes == ["auditlogs:read"]
    assert [r.form["code"] for r in fake.requests] == [browser.code]  # never the forged one


def test_only_forged_redirects_time_out_and_say_so() -> None:
    with RedirectListener(port=0, state="good-state") as listener:
        bad = httpx.get(listener.redirect_uri, params={"code": "c", "state": "forged"})
        assert bad.status_code == 400 and not listener.done.is_set()
        with pytest.raises(
            OAuthError, match=r"1 request\(s\) with a wrong or missing state"
        ) as info:
            listener.wait_for_code(timeout=0.3)
    assert info.value.code == "timeout"


def test_listener_access_denied(fake: FakeSlackOAuth, http: httpx.Client) -> None:
    browser = Browser(error="access_denied", code=None)
    with pytest.raises(OAuthError, match="access_denied") as info:
        install(fake, http, browser)
    assert info.value.code == "access_denied" and "Allow" in str(info.value)
    assert browser.done.wait(5) and browser.responses[0].status_code == 400
    assert not fake.requests


def test_listener_ignores_other_paths_and_is_one_shot() -> None:
    with RedirectListener(port=0, state="good-state") as listener:
        base = f"http://127.0.0.1:{listener.port}"
        assert listener.redirect_uri == f"{base}/slack/oauth/callback"
        assert httpx.get(f"{base}/favicon.ico").status_code == 404
        ok = httpx.get(listener.redirect_uri, params={"code": "c1", "state": "good-state"})
        assert ok.status_code == 200
        # A second redirect (replay) does not change the outcome.
        again = httpx.get(listener.redirect_uri, params={"code": "c2", "state": "good-state"})
        assert again.status_code == 404
        assert listener.wait_for_code(timeout=1) == "c1"


def test_listener_times_out() -> None:
    with RedirectListener(port=0) as listener, pytest.raises(OAuthError, match=r"within 0\.2s"):
        listener.wait_for_code(timeout=0.2)


def test_listener_survives_an_idle_connection() -> None:
    """Browsers open speculative connections that send nothing; the redirect still lands."""
    with RedirectListener(port=0, state="s") as listener:
        idle = socket.create_connection(("127.0.0.1", listener.port))
        try:
            resp = httpx.get(listener.redirect_uri, params={"code": "c", "state": "s"}, timeout=3)
            assert resp.status_code == 200
            assert listener.wait_for_code(timeout=1) == "c"
        finally:
            idle.close()


def test_listener_https(tmp_path: Path) -> None:
    """Slack wants https Redirect URLs; the listener can serve TLS with a localhost cert."""
    cert, key = _self_signed(tmp_path)
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert, key)
    with RedirectListener.for_redirect_uri(
        "https://localhost:0/slack/oauth/callback", ssl_context=server_ctx
    ) as listener:
        assert listener.redirect_uri.startswith("https://localhost:")
        client_ctx = ssl.create_default_context(cafile=str(cert))
        resp = httpx.get(
            listener.redirect_uri, params={"code": "c", "state": listener.state}, verify=client_ctx
        )
        assert resp.status_code == 200
        assert listener.wait_for_code(timeout=1) == "c"


def test_listener_for_redirect_uri_validation() -> None:
    with pytest.raises(OAuthError, match="paste mode"):
        RedirectListener.for_redirect_uri("https://connector.example.com:8765/cb")
    with pytest.raises(OAuthError, match="no TLS certificate"):
        RedirectListener.for_redirect_uri("https://localhost:8765/cb")
    listener = RedirectListener.for_redirect_uri("http://127.0.0.1:8765/cb")
    assert listener.host == "127.0.0.1" and listener.path == "/cb"


# --------------------------------------------------------------------------- token checks


def test_bot_token_refused(http: httpx.Client) -> None:
    with FakeSlackOAuth(bot_only=True) as fake:
        browser = Browser(fake.add_code())
        with pytest.raises(OAuthError, match="bot token") as info:
            install(fake, http, browser)
    assert info.value.code == "bot_token" and "User Token Scopes" in str(info.value)
    # Caught by prefix too, whatever token_type says.
    xoxb = TokenSet(access_token=SecretStr("xoxb-1-abcdefgh"), scopes=["auditlogs:read"])
    with pytest.raises(OAuthError, match="bot token"):
        check_token(xoxb, ["audit"])


def test_missing_scope_named(http: httpx.Client) -> None:
    with FakeSlackOAuth(user_scopes=["admin"]) as fake:
        browser = Browser(fake.add_code())
        with pytest.raises(OAuthError) as info:
            install(fake, http, browser, ["audit", "access"])
    message = str(info.value)
    assert info.value.code == "missing_scope"
    assert "missing scope(s) auditlogs:read needed for audit logs" in message
    assert "install the app on the organization (Enterprise Grid) as the org owner" in message
    assert "granted: admin" in message


def test_missing_admin_scope_named() -> None:
    ts = TokenSet(access_token=SecretStr("xoxp-1-abcdefgh"), scopes=["auditlogs:read"])
    with pytest.raises(
        OAuthError, match=r"missing scope\(s\) admin needed for access, integration"
    ):
        check_token(ts, ["audit", "access", "integration"])


def test_audit_needs_org_install() -> None:
    ts = TokenSet(access_token=SecretStr("xoxp-1-abcdefgh"), scopes=["auditlogs:read"])
    with pytest.raises(OAuthError, match="organization") as info:
        check_token(ts, ["audit"])
    assert info.value.code == "not_enterprise_install"
    check_token(ts, [])  # nothing needed, nothing refused


def test_exchange_errors(fake: FakeSlackOAuth, http: httpx.Client) -> None:
    code = fake.add_code()
    kw: dict[str, Any] = {
        "client_id": fake.client_id,
        "redirect_uri": "http://127.0.0.1/cb",
        "token_url": fake.token_url,
    }
    with pytest.raises(OAuthError, match="bad_client_secret") as info:
        exchange_code(http, client_secret=SecretStr("wrong-secret-123"), code=code, **kw)
    assert "wrong-secret-123" not in str(info.value)
    exchange_code(http, client_secret=secret(fake), code=code, **kw)
    with pytest.raises(OAuthError, match="invalid_code") as info:  # codes are single-use
        exchange_code(http, client_secret=secret(fake), code=code, **kw)
    assert "run the install again" in str(info.value) and code not in str(info.value)
    fake.fail_next(1, 502)
    with pytest.raises(OAuthError, match="HTTP 502 with a non-JSON body"):
        exchange_code(http, client_secret=secret(fake), code=fake.add_code(), **kw)


# --------------------------------------------------------------------------- rotation


def test_refresh_before_expiry(fake: FakeSlackOAuth, http: httpx.Client, tmp_path: Path) -> None:
    with freeze_time(at(T)) as frozen:
        token_file, access, old_refresh = stored(fake, tmp_path / "t.json", expires_at=T + DAY)
        token = rotating(fake, token_file)
        assert token.current(http).get_secret_value() == access
        frozen.move_to(at(T + DAY - 7201))
        assert token.current(http).get_secret_value() == access
        assert fake.calls["refresh_token"] == 0

        frozen.move_to(at(T + DAY - 7200))  # 120 minutes left: refresh now
        new = token.current(http).get_secret_value()
        assert new != access and new == fake.latest_access_token
        assert fake.calls["refresh_token"] == 1
        saved = on_disk(token_file.path)
        assert saved.access_token.get_secret_value() == new
        assert saved.expires_at == T + DAY - 7200 + DAY
        assert saved.refresh_token is not None
        assert saved.refresh_token.get_secret_value() != old_refresh
        # Facts from the install that a refresh answer may not repeat are kept.
        assert saved.is_enterprise_install and saved.enterprise_id == "E0FAKE"

        # Fresh again: no further refresh.
        assert token.current(http).get_secret_value() == new
        assert fake.calls["refresh_token"] == 1

        # Single-use: the consumed refresh token is refused by Slack.
        with pytest.raises(TokenRefreshError, match="invalid_refresh_token") as info:
            refresh(
                http,
                client_id=fake.client_id,
                client_secret=secret(fake),
                refresh_token=SecretStr(old_refresh),
                token_url=fake.token_url,
                source_id="acme",
            )
        assert info.value.code == "invalid_refresh_token"
        assert isinstance(info.value, SlackAuthError)
        assert old_refresh not in str(info.value)


class FlakyFile(TokenFile):
    """A token file whose next `failures` saves fail (disk full), then work again."""

    def __init__(self, path: Path, failures: int) -> None:
        super().__init__(path)
        self.failures = failures

    def save(self, token_set: TokenSet) -> None:
        if self.failures:
            self.failures -= 1
            raise TokenFileError(f"cannot write {self.path} (No space left on device)")
        super().save(token_set)


def test_new_pair_persisted_before_use(
    fake: FakeSlackOAuth, http: httpx.Client, tmp_path: Path
) -> None:
    with freeze_time(at(T)):
        token_file, access, old_refresh = stored(fake, tmp_path / "t.json", expires_at=T + 60)
        flaky = FlakyFile(token_file.path, failures=2)
        token = rotating(fake, flaky)
        # Refreshed, but the new pair could not be saved: it is NOT handed out.
        for _ in range(2):
            with pytest.raises(TokenRefreshTransientError, match="could not be saved"):
                token.current(http)
        assert fake.calls["refresh_token"] == 1  # the held pair is not refreshed again
        # A status read meanwhile must not swap the held pair for the stale one on disk.
        held = token.token_set()
        assert held is not None and held.access_token.get_secret_value() != access
        on_file = on_disk(token_file.path)
        assert on_file.access_token.get_secret_value() == access  # disk still has the old pair
        # Once the save works, the held pair is written first and only then used.
        new = token.current(http).get_secret_value()
        assert new == fake.latest_access_token and new != access
        assert on_disk(token_file.path).access_token.get_secret_value() == new
        assert fake.calls["refresh_token"] == 1
        assert old_refresh in fake.used_refresh_tokens


class Crash(BaseException):
    """The process dies: not an Exception, nothing catches it."""


class CrashAfterSave(TokenFile):
    def save(self, token_set: TokenSet) -> None:
        super().save(token_set)
        raise Crash


def test_survives_restart_between_refresh_and_use(
    fake: FakeSlackOAuth, http: httpx.Client, tmp_path: Path
) -> None:
    path = tmp_path / "tokens" / "acme.json"
    with freeze_time(at(T)) as frozen:
        _, access, old_refresh = stored(fake, path, expires_at=T + 60)
        first = rotating(fake, CrashAfterSave(path))
        with pytest.raises(Crash):
            first.current(http)  # refreshed and persisted, then died before using it
        assert fake.calls["refresh_token"] == 1
        assert old_refresh in fake.used_refresh_tokens

        # Restart: a new process builds a RotatingToken from the same file.
        second = rotating(fake, TokenFile(path))
        token = second.current(http).get_secret_value()
        assert token == fake.latest_access_token and token != access
        assert fake.calls["refresh_token"] == 1  # used the persisted pair, no refresh needed
        on_file = on_disk(path)
        assert on_file.refresh_token is not None
        assert on_file.refresh_token.get_secret_value() != old_refresh

        # And its refresh token is the live one: the next rotation works.
        frozen.move_to(at(T + DAY))
        newer = second.current(http).get_secret_value()
        assert newer == fake.latest_access_token and newer != token
        assert fake.calls["refresh_token"] == 2
        assert all(r.error == "" for r in fake.requests)  # never sent a consumed token


def test_on_expired_refreshes_once_for_many_threads(
    fake: FakeSlackOAuth, http: httpx.Client, tmp_path: Path
) -> None:
    with freeze_time(at(T)):
        token_file, access, _ = stored(fake, tmp_path / "t.json", expires_at=T + DAY)
        token = rotating(fake, token_file)
        rejected = token.current(http)
        results: list[str] = []
        barrier = threading.Barrier(8)

        def worker() -> None:
            barrier.wait()
            results.append(token.on_expired(http, rejected).get_secret_value())

        threads = [threading.Thread(target=worker) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        assert fake.calls["refresh_token"] == 1
        assert set(results) == {fake.latest_access_token} and access not in results
        # Without `rejected` it always refreshes.
        token.on_expired(http)
        assert fake.calls["refresh_token"] == 2


def test_failed_refresh_raises(fake: FakeSlackOAuth, http: httpx.Client, tmp_path: Path) -> None:
    with freeze_time(at(T)):
        token_file, _, _ = stored(fake, tmp_path / "t.json", expires_at=T - 1)
        fake.revoke_refresh_tokens()
        token = rotating(fake, token_file)
        with pytest.raises(TokenRefreshError, match="invalid_refresh_token") as info:
            token.current(http)
        assert info.value.code == "invalid_refresh_token" and info.value.source_id == "acme"
        assert "run the install again" in str(info.value)

        for client_id, client_secret, code in [
            ("9999.9999", fake.client_secret, "invalid_client_id"),
            (fake.client_id, "not-the-secret-42", "bad_client_secret"),
        ]:
            wrong = RotatingToken(
                token_file,
                client_id=client_id,
                client_secret=SecretStr(client_secret),
                token_url=fake.token_url,
            )
            with pytest.raises(TokenRefreshError) as info:
                wrong.on_expired(http)
            assert info.value.code == code and "not-the-secret-42" not in str(info.value)


def test_transient_refresh_failures(
    fake: FakeSlackOAuth, http: httpx.Client, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with freeze_time(at(T)) as frozen:
        token_file, access, _ = stored(fake, tmp_path / "t.json", expires_at=T + 3600)
        token = rotating(fake, token_file)
        # Due for refresh but still valid: a 5xx is logged and the current token is used.
        fake.fail_next(1, 503)
        with caplog.at_level(logging.WARNING, logger="connector.credentials.rotation"):
            assert token.current(http).get_secret_value() == access
        assert "token refresh failed" in caplog.text and access not in caplog.text
        # Expired: the transient error reaches the caller (retried like any Slack 5xx).
        frozen.move_to(at(T + 3600))
        fake.fail_next(1, 500)
        with pytest.raises(TokenRefreshTransientError, match="HTTP 500") as info:
            token.current(http)
        assert isinstance(info.value, SlackTransientError)
        # Next attempt works: the failed call did not consume the refresh token.
        assert token.current(http).get_secret_value() == fake.latest_access_token

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}/api/oauth.v2.access"
    with pytest.raises(TokenRefreshTransientError, match="connection error"):
        refresh(
            http,
            client_id="1",
            client_secret=SecretStr("x" * 10),
            refresh_token=SecretStr("xoxe-1-abcdef"),
            token_url=dead,
        )


def test_non_rotating_token(fake: FakeSlackOAuth, http: httpx.Client, tmp_path: Path) -> None:
    token_file = TokenFile(tmp_path / "t.json")
    token_file.save(TokenSet(access_token=SecretStr("xoxp-long-lived-token"), scopes=["admin"]))
    token = rotating(fake, token_file)
    with freeze_time(at(T + 10 * 365 * 86400)):
        assert token.current(http).get_secret_value() == "xoxp-long-lived-token"
    with pytest.raises(TokenRefreshError, match="no refresh token") as info:
        token.on_expired(http)
    assert info.value.code == "token_expired"
    assert fake.calls.total() == 0


def test_token_file_problems(fake: FakeSlackOAuth, http: httpx.Client, tmp_path: Path) -> None:
    missing = rotating(fake, TokenFile(tmp_path / "nope.json"))
    with pytest.raises(TokenRefreshError, match="run the install") as info:
        missing.current(http)
    assert info.value.code == "not_installed"
    assert TokenFile(tmp_path / "nope.json").load() is None

    corrupt = tmp_path / "corrupt.json"
    corrupt.write_text('{"version": 1, "token": {"access_token": "xoxp-secret-in-bad-file"')
    with pytest.raises(TokenRefreshError, match="corrupt") as info:
        rotating(fake, TokenFile(corrupt)).current(http)
    assert "xoxp-secret-in-bad-file" not in str(info.value)


def test_reinstall_picked_up_without_restart(
    fake: FakeSlackOAuth, http: httpx.Client, tmp_path: Path
) -> None:
    with freeze_time(at(T)):
        token_file, access, _ = stored(fake, tmp_path / "t.json", expires_at=T + DAY)
        token = rotating(fake, token_file)
        assert token.current(http).get_secret_value() == access
        _, access2, _ = stored(fake, tmp_path / "t.json", expires_at=T + DAY)  # `install` again
        assert token.current(http).get_secret_value() == access2
        assert fake.calls["refresh_token"] == 0


# --------------------------------------------------------------------------- no secret leaks


def test_no_secret_in_repr_messages_or_logs(
    fake: FakeSlackOAuth, http: httpx.Client, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    code = fake.add_code()
    browser = Browser(code)
    with freeze_time(at(T)):
        token_set = install(fake, http, browser)
    assert token_set.refresh_token is not None
    secrets_seen = {
        token_set.access_token.get_secret_value(),
        token_set.refresh_token.get_secret_value(),
        fake.client_secret,
        code,
    }
    texts = [repr(token_set), str(token_set)]

    token_file = TokenFile(tmp_path / "t.json")
    token_file.save(token_set)
    with freeze_time(at(T + DAY)):
        token = rotating(fake, token_file)
        new = token.current(http).get_secret_value()
        secrets_seen.add(new)
        texts += [repr(token), repr(token_file), repr(token.token_set())]
        # Every kind of failure message.
        fake.revoke_refresh_tokens()
        failures: list[Callable[[], object]] = [
            lambda: token.on_expired(http),
            lambda: exchange_code(
                http,
                client_id=fake.client_id,
                client_secret=secret(fake),
                code=code,
                redirect_uri="http://127.0.0.1/cb",
                token_url=fake.token_url,
            ),
            lambda: check_token(
                TokenSet(access_token=SecretStr(new), scopes=[]), ["audit", "access"]
            ),
            lambda: code_from_redirect(f"/cb?code={code}&state=wrong", "right"),
        ]
        for call in failures:
            with pytest.raises((OAuthError, TokenRefreshError)) as info:
                call()
            texts.append(str(info.value))
            texts.append(repr(info.value))
    texts.append(caplog.text)
    for text in texts:
        for value in secrets_seen:
            assert value not in text, text

    # Tokens are registered with the log redactor the moment a TokenSet holds them.
    custom = TokenSet(
        access_token=SecretStr("opaque-access-value-1"),
        refresh_token=SecretStr("opaque-refresh-value-2"),
    )
    assert custom.refresh_token is not None
    scrubbed = REDACTOR.scrub("got opaque-access-value-1 and opaque-refresh-value-2")
    assert scrubbed == "got [REDACTED] and [REDACTED]"
    assert "SecretStr('**********')" not in repr(custom) and "opaque" not in repr(custom)


# --------------------------------------------------------------------------- helpers


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    os.chmod(key_path, 0o600)
    return cert_path, key_path
