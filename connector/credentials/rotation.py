"""Token rotation for expiring Slack tokens: `RotatingToken`.

With rotation on, a user token lives 12 hours and its refresh token is single-use: once
Slack answers a refresh, the old refresh token is dead and the new pair is the only way
back in. So the new pair is written to disk (tmp file, fsync, rename, fsync dir; mode 0600)
*before* the new access token is handed to anyone, and a pair that could not be written is
kept in memory and written again before it is used. A process that dies between refresh and
use therefore restarts on the new pair, never on the consumed refresh token.

The refresh call and its errors are in `connector.credentials.refresh`, the token file in
`connector.state.token_store`. `TokenRefreshError` (a `SlackAuthError`) parks the source until a
human re-installs; `TokenRefreshTransientError` (a `SlackTransientError`) fails or retries
the cycle.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from pydantic import SecretStr

from connector.credentials.refresh import (
    METHOD,
    TokenRefreshError,
    TokenRefreshTransientError,
    merge,
    refresh,
)
from connector.logs import REDACTOR
from connector.slack.oauth_access import TOKEN_URL
from connector.slack.tokenset import TokenSet
from connector.state.token_store import TokenFileError, TokenStorage

log = logging.getLogger(__name__)

REFRESH_BEFORE_SECONDS = 7200  # the official SDK refreshes 120 minutes before expiry


class RotatingToken:
    """The current access token of one source, refreshed before it expires.

    Thread-safe: the audit, access and integration jobs of one source share one instance.
    `current(http)` refreshes when fewer than `refresh_before_seconds` remain; a transient
    refresh failure while the old token is still valid returns the old token (and tries
    again on the next call). `on_expired(http, rejected)` forces a refresh after Slack said
    `token_expired`; pass the token that was rejected so N threads hitting the same expiry
    cause one refresh, not N. A non-rotating TokenSet (no expiry) is returned as is.

    The file is re-read when it changes on disk (a re-install is picked up without a
    restart), and a cross-process lock on `<file>.lock` is held around each refresh.
    """

    def __init__(
        self,
        token_file: TokenStorage,
        *,
        client_id: str,
        client_secret: SecretStr,
        token_url: str = TOKEN_URL,
        refresh_before_seconds: int = REFRESH_BEFORE_SECONDS,
        source_id: str = "",
    ) -> None:
        self.file = token_file
        self.client_id = client_id
        self._client_secret = client_secret
        self.token_url = token_url
        self.refresh_before_seconds = refresh_before_seconds
        self.source_id = source_id
        self._lock = threading.RLock()
        self._set: TokenSet | None = None
        self._stamp: Any = None
        self._unsaved = False
        REDACTOR.add(client_secret.get_secret_value(), owner=f"oauth-client:{source_id}")

    def __repr__(self) -> str:
        return f"RotatingToken(source_id={self.source_id!r}, file={str(self.file.path)!r})"

    # -- public

    def current(self, http: httpx.Client) -> SecretStr:
        """The access token to use now, refreshing it first if it is close to expiry."""
        with self._lock:
            self._flush_unsaved()
            self._sync()
            if not self._due():
                return self._token().access_token
            with self._file_lock():
                self._sync()
                if not self._due():
                    return self._token().access_token
                old = self._token()
                left = old.seconds_left()
                if old.refresh_token is None:
                    if left is not None and left > 0:
                        return old.access_token
                    raise TokenRefreshError(
                        self.source_id,
                        METHOD,
                        "the token expired and there is no refresh token; run the install again",
                        code="token_expired",
                    )
                try:
                    return self._refresh_locked(http)
                except TokenRefreshTransientError as exc:
                    if self._unsaved or left is None or left <= 0:
                        raise
                    log.warning(
                        "token refresh failed; using the current token until it expires",
                        extra={
                            "source_id": self.source_id,
                            "seconds_left": left,
                            "error": str(exc),
                        },
                    )
                    return old.access_token

    def on_expired(self, http: httpx.Client, rejected: SecretStr | None = None) -> SecretStr:
        """Refresh now because Slack rejected the token (`token_expired`).

        If `rejected` is given and is no longer the current token, someone already refreshed:
        the current token is returned without another refresh.
        """
        with self._lock:
            self._flush_unsaved()
            self._sync()
            if self._superseded(rejected):
                return self._token().access_token
            with self._file_lock():
                self._sync()
                if self._superseded(rejected):
                    return self._token().access_token
                if self._token().refresh_token is None:
                    raise TokenRefreshError(
                        self.source_id,
                        METHOD,
                        "Slack says the token expired and there is no refresh token (token "
                        "rotation was off at install); run the install again",
                        code="token_expired",
                    )
                return self._refresh_locked(http)

    def token_set(self) -> TokenSet | None:
        """The TokenSet in use (loaded from the file if needed), for status and metrics."""
        with self._lock:
            try:
                self._sync()
            except TokenRefreshError:
                return None
            return self._set

    # -- internals (all called with self._lock held)

    def _token(self) -> TokenSet:
        assert self._set is not None
        return self._set

    def _due(self) -> bool:
        left = self._token().seconds_left()
        return left is not None and left <= self.refresh_before_seconds

    def _superseded(self, rejected: SecretStr | None) -> bool:
        if rejected is None:
            return False
        now = self._token().access_token.get_secret_value().encode("utf-8")
        return not secrets.compare_digest(now, rejected.get_secret_value().encode("utf-8"))

    def _sync(self) -> None:
        """Load the file on first use and whenever it changed on disk, unless an unsaved
        new pair is held (the file then holds a consumed refresh token)."""
        if self._unsaved:
            return
        try:
            stamp = self.file.stamp()
            if self._set is not None and stamp == self._stamp:
                return
            loaded = self.file.load() if stamp is not None else None
        except TokenFileError as exc:
            if self._set is not None:
                log.warning(
                    "cannot re-read token file; keeping the token in memory",
                    extra={"source_id": self.source_id, "error": str(exc)},
                )
                return
            raise TokenRefreshError(self.source_id, METHOD, str(exc), code="token_file") from None
        if loaded is None:
            if self._set is None:
                raise TokenRefreshError(
                    self.source_id,
                    METHOD,
                    f"no token at {self.file.path}; run the install for this source",
                    code="not_installed",
                )
            return  # the file went away: keep what we have, the next save recreates it
        self._set, self._stamp = loaded, stamp

    @contextmanager
    def _file_lock(self) -> Iterator[None]:
        try:
            with self.file.locked():
                yield
        except TokenFileError as exc:
            raise TokenRefreshTransientError(self.source_id, METHOD, str(exc)) from None

    def _refresh_locked(self, http: httpx.Client) -> SecretStr:
        old = self._token()
        assert old.refresh_token is not None
        new = refresh(
            http,
            client_id=self.client_id,
            client_secret=self._client_secret,
            refresh_token=old.refresh_token,
            token_url=self.token_url,
            source_id=self.source_id,
        )
        self._set, self._unsaved = merge(old, new), True
        self._flush_unsaved()
        log.info(
            "token refreshed",
            extra={"source_id": self.source_id, "expires_at": self._token().expires_at},
        )
        return self._token().access_token

    def _flush_unsaved(self) -> None:
        """Persist a refreshed pair that is not on disk yet; until then it is not used."""
        if not self._unsaved:
            return
        try:
            self.file.save(self._token())
            stamp = self.file.stamp()
        except TokenFileError as exc:
            log.error(
                "refreshed token pair NOT saved; holding it in memory and retrying",
                extra={"source_id": self.source_id, "error": str(exc)},
            )
            raise TokenRefreshTransientError(
                self.source_id,
                METHOD,
                f"refreshed token pair could not be saved ({exc}); will retry the save",
                code="token_file",
            ) from None
        self._unsaved, self._stamp = False, stamp


__all__ = [
    "REFRESH_BEFORE_SECONDS",
    "RotatingToken",
]
