"""A Slack user token as oauth.v2.access hands it out, and reading one from that answer.

Used by the daemon (token rotation, the token file) and by the install flow alike, so it
lives apart from both: the daemon never imports the install code. Every token is
registered with the log redactor the moment a `TokenSet` holds it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import SecretStr

from connector import clock
from connector.logs import REDACTOR


@dataclass(frozen=True, repr=False)
class TokenSet:
    """One Slack token as oauth.v2.access returned it. `expires_at` is unix seconds, or None
    when token rotation is off (the token lives until revoked)."""

    access_token: SecretStr
    refresh_token: SecretStr | None = None
    expires_at: int | None = None
    scopes: list[str] = field(default_factory=list)
    token_type: str = "user"  # noqa: S105 - a kind, not a secret
    team_id: str | None = None
    enterprise_id: str | None = None
    is_enterprise_install: bool = False
    user_id: str | None = None

    def __post_init__(self) -> None:
        """Redacted while this pair lives: a rotated-out pair stops costing every log line."""
        refresh = [self.refresh_token.get_secret_value()] if self.refresh_token else []
        REDACTOR.hold(self, self.access_token.get_secret_value(), *refresh)

    def __repr__(self) -> str:
        return (
            f"TokenSet(token_type={self.token_type!r}, scopes={self.scopes!r}, "
            f"expires_at={self.expires_at!r}, rotating={self.refresh_token is not None}, "
            f"team_id={self.team_id!r}, enterprise_id={self.enterprise_id!r}, "
            f"is_enterprise_install={self.is_enterprise_install!r})"
        )

    __str__ = __repr__

    @property
    def is_bot(self) -> bool:
        token = self.access_token.get_secret_value()
        bot_type = self.token_type == "bot"  # noqa: S105 - a kind, not a secret
        return bot_type or token.startswith(("xoxb-", "xoxe.xoxb-"))

    def seconds_left(self) -> int | None:
        """Seconds until expiry (negative once expired), None for a non-expiring token."""
        return None if self.expires_at is None else self.expires_at - clock.now_ts()

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict WITH the secrets in it: only for the token file."""
        return {
            "access_token": self.access_token.get_secret_value(),
            "refresh_token": (
                self.refresh_token.get_secret_value() if self.refresh_token is not None else None
            ),
            "expires_at": self.expires_at,
            "scopes": list(self.scopes),
            "token_type": self.token_type,
            "team_id": self.team_id,
            "enterprise_id": self.enterprise_id,
            "is_enterprise_install": self.is_enterprise_install,
            "user_id": self.user_id,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TokenSet:
        """Inverse of `to_dict`. Raises ValueError (without values) on a malformed dict."""
        access = data.get("access_token")
        if not isinstance(access, str) or not access:
            raise ValueError("access_token missing or not a string")
        refresh = data.get("refresh_token")
        if refresh is not None and (not isinstance(refresh, str) or not refresh):
            raise ValueError("refresh_token is not a string")
        expires_at = data.get("expires_at")
        if expires_at is not None and (
            isinstance(expires_at, bool) or not isinstance(expires_at, int)
        ):
            raise ValueError("expires_at is not an integer")
        scopes = data.get("scopes", [])
        if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
            raise ValueError("scopes is not a list of strings")
        return cls(
            access_token=SecretStr(access),
            refresh_token=SecretStr(refresh) if refresh else None,
            expires_at=expires_at,
            scopes=list(scopes),
            token_type=str(data.get("token_type") or "user"),
            team_id=_opt_str(data.get("team_id")),
            enterprise_id=_opt_str(data.get("enterprise_id")),
            is_enterprise_install=bool(data.get("is_enterprise_install", False)),
            user_id=_opt_str(data.get("user_id")),
        )


def _opt_str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _scopes(value: object) -> list[str]:
    if isinstance(value, list):
        return sorted({str(v) for v in value if v})
    if isinstance(value, str):
        return sorted({s for s in re.split(r"[,\s]+", value) if s})
    return []


def _id_of(value: object) -> str | None:
    if isinstance(value, Mapping):
        return _opt_str(value.get("id"))
    return None


def token_set_from_response(body: Mapping[str, Any], *, prefer_user: bool) -> TokenSet:
    """Build a TokenSet from an oauth.v2.access answer (`ok` already checked); ValueError
    when it holds no access token.

    An authorization_code answer carries the user token under `authed_user` (the top-level
    token, if any, is the bot's); a refresh answer carries it at the top level. With
    `prefer_user`, `authed_user` wins when it holds a token; otherwise top level wins.
    """
    authed = body.get("authed_user")
    authed = authed if isinstance(authed, Mapping) else {}
    user_block = authed if isinstance(authed.get("access_token"), str) else None
    top_block = body if isinstance(body.get("access_token"), str) else None
    block = (user_block or top_block) if prefer_user else (top_block or user_block)
    if block is None or not block.get("access_token"):
        raise ValueError("oauth.v2.access answered ok but with no access token")
    expires_in = block.get("expires_in")
    expires_at = None
    if isinstance(expires_in, int | float) and not isinstance(expires_in, bool):
        expires_at = clock.now_ts() + int(expires_in)
    token_type = _opt_str(block.get("token_type"))
    if token_type is None:
        token_type = "user" if block is user_block else "bot"
    refresh = _opt_str(block.get("refresh_token"))
    return TokenSet(
        access_token=SecretStr(str(block["access_token"])),
        refresh_token=SecretStr(refresh) if refresh else None,
        expires_at=expires_at,
        scopes=_scopes(block.get("scope")),
        token_type=token_type,
        team_id=_id_of(body.get("team")),
        enterprise_id=_id_of(body.get("enterprise")),
        is_enterprise_install=body.get("is_enterprise_install") is True,
        user_id=_opt_str(authed.get("id")) or _opt_str(body.get("user_id")),
    )
