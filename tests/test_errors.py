"""Each error class over real sockets: what is retried, what parks a source, what waits."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from connector.service.app import App
from connector.slack.client import RetryPolicy, SlackClient
from connector.slack.errors import (
    PERMANENT_CODES,
    SlackApiError,
    SlackAuthError,
    SlackRateLimitedError,
    SlackTransientError,
)
from connector.slack.ratelimit import RateBudgets
from tests.conftest import TOKEN, local_settings, read_local, source
from tests.factories import audit, now
from tests.fakes.slack_server import FakeSlack


def client(
    slack: FakeSlack, sleeps: list[float], token: str = TOKEN, **retry: float
) -> SlackClient:
    return SlackClient(
        "acme",
        SecretStr(token),
        audit_api_url=slack.audit_api_url,
        web_api_url=slack.web_api_url,
        http=httpx.Client(timeout=5),
        budgets=RateBudgets(),
        retry=RetryPolicy(**{"attempts": 3, "initial_wait": 0.01, **retry}),
        sleep=sleeps.append,
        audit_per_minute=10_000,
        web_per_minute=10_000,
    )


def test_429_waits_exactly_retry_after(slack: FakeSlack) -> None:
    sleeps: list[float] = []
    slack.fail_next("logs", "429", retry_after=7)
    slack.fail_next("team.accessLogs", "429", retry_after=3)
    c = client(slack, sleeps)
    c.audit_logs({"limit": 10})
    c.web("team.accessLogs", {"count": 10})
    assert sleeps == [7.0, 3.0]


def test_429_beyond_the_cap_gives_up_without_sleeping(slack: FakeSlack) -> None:
    sleeps: list[float] = []
    slack.fail_next("logs", "429", retry_after=3600)
    with pytest.raises(SlackRateLimitedError) as err:
        client(slack, sleeps, max_retry_after=60).audit_logs({"limit": 10})
    assert err.value.retry_after == 3600
    assert sleeps == [] and slack.count("logs") == 1


def test_transient_errors_give_up_after_bounded_attempts(slack: FakeSlack) -> None:
    sleeps: list[float] = []
    slack.fail_next("team.integrationLogs", "html500", times=5)
    with pytest.raises(SlackTransientError) as err:
        client(slack, sleeps).web("team.integrationLogs", {})
    assert "HTTP 500" in str(err.value)
    assert slack.count("team.integrationLogs") == 3 and len(sleeps) == 2
    assert sleeps[0] < sleeps[1], "backoff grows"


@pytest.mark.parametrize(
    "code",
    sorted(
        PERMANENT_CODES
        & {
            "invalid_auth",
            "not_authed",
            "token_revoked",
            "token_expired",
            "account_inactive",
            "missing_scope",
            "paid_only",
            "feature_not_enabled",
            "not_allowed_token_type",
        }
    ),
)
def test_permanent_web_api_errors_are_auth_errors(slack: FakeSlack, code: str) -> None:
    slack.set_error("team.accessLogs", code)
    with pytest.raises(SlackAuthError) as err:
        client(slack, []).web("team.accessLogs", {})
    assert err.value.code == code and slack.count("team.accessLogs") == 1


def test_audit_401_with_and_without_body_is_auth_error(slack: FakeSlack) -> None:
    with pytest.raises(SlackAuthError) as err:
        client(slack, [], token="xoxp-wrong").audit_logs({})
    assert err.value.status == 401 and err.value.code == "invalid_auth"
    slack.fail_next("logs", "401")
    with pytest.raises(SlackAuthError) as err:
        client(slack, []).audit_logs({})
    assert err.value.status == 401 and err.value.code == ""


def test_ok_false_is_checked_not_only_the_status(slack: FakeSlack) -> None:
    slack.set_error("team.integrationLogs", "invalid_cursor")
    with pytest.raises(SlackApiError):
        client(slack, []).web("team.integrationLogs", {})
    slack.set_error("team.integrationLogs", "internal_error")
    with pytest.raises(SlackTransientError):
        client(slack, []).web("team.integrationLogs", {})


def test_errors_never_carry_the_token(slack: FakeSlack) -> None:
    slack.revoke(TOKEN)
    with pytest.raises(SlackAuthError) as err:
        client(slack, []).web("team.accessLogs", {})
    assert TOKEN not in str(err.value) and TOKEN not in repr(err.value)
    assert TOKEN not in repr(client(slack, []))


def test_revoked_source_is_parked_and_the_other_keeps_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good_token, bad_token = "xoxp-good-token", "xoxp-bad-token"
    with FakeSlack(tokens=(good_token, bad_token)) as slack:
        t = now()
        slack.add_audit(audit(i, t - 5) for i in range(3))
        slack.revoke(bad_token)
        monkeypatch.setenv("GOOD_TOKEN", good_token)
        monkeypatch.setenv("BAD_TOKEN", bad_token)
        settings = local_settings(
            tmp_path,
            source(slack, "bad", log_types=["audit"], token_env="BAD_TOKEN"),
            source(slack, "good", log_types=["audit"], token_env="GOOD_TOKEN"),
        )
        app = App(settings)
        try:
            bad, good = app.once()
            assert bad.state == "parked" and "invalid_auth" in bad.detail
            assert good.ok
            assert app.poll("bad", "audit").state == "parked"
            assert slack.count("logs") == 2, "a parked source is not polled on schedule"
            assert app.store.status("bad", "audit")["state"] == "parked"
        finally:
            app.close()
        assert len(read_local(tmp_path / "out")) == 3
