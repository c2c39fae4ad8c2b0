"""Where a source's token comes from, and how a rejected token is replaced.

Three kinds, picked by the source config: a static token read from an environment
variable, a file, AWS Secrets Manager or SSM (read once per poll and again whenever Slack
rejects it, so a rotated secret is picked up without a restart); or an OAuth token pair
from `slack-connector auth` that refreshes itself before it expires and when Slack says
`token_expired`.
"""

from __future__ import annotations

import httpx
from pydantic import SecretStr

from connector.config.errors import ConfigError
from connector.config.settings import SourceConfig
from connector.credentials.rotation import RotatingToken
from connector.logs import REDACTOR
from connector.slack.client import fingerprint
from connector.state.options import SqliteOptions, StateOptions
from connector.state.token_store import TokenFileError


class StaticToken:
    """A token read once per poll, and again when Slack rejects it.

    For a Secrets Manager or SSM reference each read is an AWS call; reading per request
    was one per Slack page. A rotated secret is still picked up by the next poll, or at
    once when Slack rejects the old one.
    """

    def __init__(self, cfg: SourceConfig) -> None:
        self._cfg = cfg
        self._token: SecretStr | None = None

    def begin_poll(self) -> None:
        self._token = None

    def current(self) -> SecretStr:
        token = self._token
        return self._read() if token is None else token

    def renew(self, rejected: SecretStr) -> SecretStr | None:
        token = self._read()
        return token if token.get_secret_value() != rejected.get_secret_value() else None

    def version(self) -> str:
        """Names the secret's current value without revealing it: a parked source is tried
        again as soon as this changes (a replaced env var, file or AWS secret)."""
        try:
            return fingerprint(self._cfg.read_token())
        except ConfigError:
            return "unreadable"

    def budget_key(self) -> str:
        return fingerprint(self.current())

    def _read(self) -> SecretStr:
        token = self._cfg.read_token()
        REDACTOR.add(token.get_secret_value(), owner=f"token:{self._cfg.id}")
        self._token = token
        return token


class OAuthToken:
    def __init__(self, cfg: SourceConfig, state: StateOptions, http: httpx.Client) -> None:
        oauth = cfg.oauth
        assert oauth is not None
        self._http = http
        self._source_id = cfg.id
        self.file = state.token_storage(cfg.id, oauth.token_store)
        self._rotating = RotatingToken(
            self.file,
            client_id=oauth.client_id,
            client_secret=oauth.client_secret.resolve(),
            token_url=oauth.token_url,
            refresh_before_seconds=oauth.refresh_before_seconds,
            source_id=cfg.id,
        )

    def begin_poll(self) -> None:
        """The rotating token checks its expiry on every request; nothing to forget."""

    def current(self) -> SecretStr:
        return self._rotating.current(self._http)

    def renew(self, rejected: SecretStr) -> SecretStr | None:
        return self._rotating.on_expired(self._http, rejected)

    def version(self) -> str:
        """The token file's identity (inode, mtime, size): a re-install changes it."""
        try:
            return str(self.file.stamp())
        except TokenFileError:
            return "unreadable"

    def budget_key(self) -> str:
        ts = self._rotating.token_set()
        org = ts and (ts.enterprise_id or ts.team_id)
        return f"org:{org}" if org else f"source:{self._source_id}"


Credential = StaticToken | OAuthToken


def provider(cfg: SourceConfig, state: StateOptions | None, http: httpx.Client) -> Credential:
    """Token pairs live where the state store says (a file, or the shared table)."""
    if cfg.oauth:
        return OAuthToken(cfg, state or SqliteOptions(), http)
    return StaticToken(cfg)
