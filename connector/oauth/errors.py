"""The install flow's one error type."""

from __future__ import annotations


class OAuthError(Exception):
    """The install cannot finish. The message says why and what to do; never a secret.

    `code` is Slack's error code (or "state_mismatch", "access_denied", "timeout", ...).
    """

    def __init__(self, message: str, *, code: str = "") -> None:
        super().__init__(message)
        self.code = code
