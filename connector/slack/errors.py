"""Typed Slack errors.

Each error carries the source id and Slack's error code, never the token, so it can be
logged, alerted on and shown in metrics as is. The class decides what the connector does:
park the source, retry within the cycle, or fail the cycle and try again next time.
"""

from __future__ import annotations

import re

PERMANENT_CODES = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "token_revoked",
        "token_expired",
        "account_inactive",
        "missing_scope",
        "paid_only",
        "feature_not_enabled",
        "not_allowed_token_type",
        "no_permission",
        "team_access_not_granted",
        "invalid_workspace",
        "team_not_authorized",
        "user_is_bot",
        "access_denied",
        "two_factor_setup_required",
        "ekm_access_denied",
        "org_login_required",
    }
)
TRANSIENT_CODES = frozenset(
    {
        "ratelimited",
        "fatal_error",
        "internal_error",
        "service_unavailable",
        "request_timeout",
        "accesslimited",
    }
)


class SlackError(Exception):
    """Base class: something went wrong talking to Slack for one source."""

    def __init__(
        self, source_id: str, method: str, detail: str, *, code: str = "", status: int = 0
    ) -> None:
        self.source_id = source_id
        self.method = method
        self.code = code
        self.status = status
        self.detail = detail
        super().__init__(f"source {source_id!r}: {method}: {detail}")


class SlackAuthError(SlackError):
    """The token or plan cannot work until a human acts: the source is parked and reported."""


class SlackTransientError(SlackError):
    """Worth retrying: 5xx, HTML or truncated bodies, connection errors, timeouts."""


class SlackRateLimitedError(SlackTransientError):
    """HTTP 429. `retry_after` is Slack's `Retry-After` in seconds, honoured exactly."""

    def __init__(self, source_id: str, method: str, retry_after: float) -> None:
        super().__init__(
            source_id,
            method,
            f"rate limited, Retry-After {retry_after:g}s",
            code="ratelimited",
            status=429,
        )
        self.retry_after = retry_after


class SlackApiError(SlackError):
    """Slack refused the request for a reason retrying now will not fix (bad cursor, bad arg)."""


def safe_code(value: object, default: str = "unknown_error") -> str:
    """An error code (or scope list) from a remote answer, fit to print: letters, digits
    and `_.:,-` only, at most 64 characters, so a hostile body cannot inject text."""
    text = value if isinstance(value, str) and value else default
    return re.sub(r"[^A-Za-z0-9_.:,-]", "?", text)[:64]


def classify(
    source_id: str, method: str, code: str, status: int, *, needed: object = None
) -> SlackError:
    """Map Slack's `error` code (or bare status) to the error class that drives behaviour.

    `needed` is the scope Slack says is missing (`missing_scope` answers carry it), so the
    operator reads which scope to add instead of guessing.
    """
    detail = f"HTTP {status}, error {code!r}" if code else f"HTTP {status}"
    if needed:
        detail += f", needed scope {safe_code(needed)!r}"
    if code in PERMANENT_CODES or (status in (401, 403) and code not in TRANSIENT_CODES):
        return SlackAuthError(source_id, method, detail, code=code, status=status)
    if code in TRANSIENT_CODES or status >= 500:
        return SlackTransientError(source_id, method, detail, code=code, status=status)
    return SlackApiError(source_id, method, detail, code=code, status=status)
