"""Where a source's token comes from, and how a rejected token is replaced.

Three kinds, picked by the source config: a static token read from an environment
variable, a file, AWS Secrets Manager or SSM (re-read on every poll and whenever Slack
rejects it, so a rotated secret is picked up without a restart); or an OAuth token pair
from `slack-connector auth` that refreshes itself before it expires and when Slack says
`token_expired`.
"""

from __future__ import annotations

import httpx
from pydantic import SecretStr

from connector.config import ConfigError, SourceConfig
from connector.logs import REDACTOR
from connector.slack.client import fingerprint
from connector.tokens import RotatingToken, TokenFile, TokenFileError, default_token_path


class StaticToken:
    def __init__(self, cfg: SourceConfig) -> None:
        self._cfg = cfg
        self._last: SecretStr | None = None

    def current(self) -> SecretStr:
        token = self._cfg.read_token()
        REDACTOR.add(token.get_secret_value())
        self._last = token
        return token

    def renew(self, rejected: SecretStr) -> SecretStr | None:
        token = self.current()
        return token if token.get_secret_value() != rejected.get_secret_value() else None

    def version(self) -> str:
        """Names the secret's current value without revealing it: a parked source is tried
        again as soon as this changes (a replaced env var, file or AWS secret)."""
        try:
            return fingerprint(self._cfg.read_token())
        except ConfigError:
            return "unreadable"

    def budget_key(self) -> str:
        """From the token `current` just read: reading the secret again (an AWS call for
        Secrets Manager and SSM references) for every request would double the cost."""
        return fingerprint(self._last or self.current())


class OAuthToken:
    def __init__(self, cfg: SourceConfig, state_path: str, http: httpx.Client) -> None:
        oauth = cfg.oauth
        assert oauth is not None
        self._http = http
        self._source_id = cfg.id
        path = oauth.token_store or str(default_token_path(state_path, cfg.id))
        self.file = TokenFile(path)
        self._rotating = RotatingToken(
            self.file,
            client_id=oauth.client_id,
            client_secret=oauth.client_secret.resolve(),
            token_url=oauth.token_url,
            refresh_before_seconds=oauth.refresh_before_seconds,
            source_id=cfg.id,
        )

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


def provider(cfg: SourceConfig, state_path: str, http: httpx.Client) -> Credential:
    return OAuthToken(cfg, state_path, http) if cfg.oauth else StaticToken(cfg)
