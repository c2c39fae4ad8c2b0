"""Token rotation for expiring Slack tokens, and the file that holds the current pair.

With rotation on, a user token lives 12 hours and its refresh token is single-use: once
Slack answers a refresh, the old refresh token is dead and the new pair is the only way
back in. So the new pair is written to disk (tmp file, fsync, rename, fsync dir; mode 0600)
*before* the new access token is handed to anyone, and a pair that could not be written is
kept in memory and written again before it is used. A process that dies between refresh and
use therefore restarts on the new pair, never on the consumed refresh token.

Errors reuse the Slack error classes the runner already understands: `TokenRefreshError`
(a `SlackAuthError`) parks the source until a human re-installs; `TokenRefreshTransientError`
(a `SlackTransientError`) fails or retries the cycle.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import httpx
import orjson
from pydantic import SecretStr

from connector import clock, fsutil
from connector.logs import REDACTOR
from connector.slack.errors import (
    TRANSIENT_CODES,
    SlackAuthError,
    SlackTransientError,
    safe_code,
)
from connector.slack.oauth_access import TOKEN_URL, post_token_endpoint
from connector.tokenset import TokenSet
from connector.tokenset import token_set_from_response as _from_response

log = logging.getLogger(__name__)

METHOD = "oauth.v2.access"
REFRESH_BEFORE_SECONDS = 7200  # the official SDK refreshes 120 minutes before expiry
FILE_VERSION = 1

# ok:false codes on a refresh that no retry will fix: a human must re-install or fix config.
PERMANENT_REFRESH_CODES = frozenset(
    {
        "invalid_refresh_token",
        "invalid_client_id",
        "bad_client_secret",
        "invalid_grant_type",
        "token_revoked",
        "token_expired",
        "invalid_auth",
        "app_deleted",
        "account_inactive",
    }
)

_HINTS = {
    "invalid_refresh_token": (
        "the refresh token was already used or revoked; run the install again"
    ),
    "invalid_client_id": "check client_id (Settings > Basic Information)",
    "bad_client_secret": "check client_secret (Settings > Basic Information)",
    "token_revoked": "the token was revoked; run the install again",
    "app_deleted": "the Slack app was deleted; create it again and run the install",
}


class TokenRefreshError(SlackAuthError):
    """A refresh that cannot succeed until a human acts (re-install, fix client credentials).
    Parks the source. Never carries a token."""


class TokenRefreshTransientError(SlackTransientError):
    """A refresh that may succeed later: transport error, 5xx, 429, garbled body, or a new
    pair that could not be written yet."""


class TokenFileError(Exception):
    """The token file cannot be read or written. Names the path, never the contents."""


def default_token_path(state_path: str | os.PathLike[str], source_id: str) -> Path:
    """`<dir of the state DB>/tokens/<source_id>.json`."""
    return Path(state_path).resolve().parent / "tokens" / f"{source_id}.json"


# --------------------------------------------------------------------------- refresh call


def refresh(
    http: httpx.Client,
    *,
    client_id: str,
    client_secret: SecretStr,
    refresh_token: SecretStr,
    token_url: str = TOKEN_URL,
    source_id: str = "",
) -> TokenSet:
    """Trade a refresh token for a new pair (POST grant_type=refresh_token).

    Raises TokenRefreshError for codes no retry fixes (invalid_refresh_token,
    invalid_client_id, bad_client_secret, ...) and TokenRefreshTransientError for transport
    errors, HTTP 429/5xx, non-JSON bodies and Slack's transient codes.
    """
    REDACTOR.add(
        client_secret.get_secret_value(),
        refresh_token.get_secret_value(),
        owner=f"oauth-refresh:{source_id or client_id}",
    )
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token.get_secret_value()}
    try:
        status, body, problem = post_token_endpoint(
            http, token_url, client_id=client_id, client_secret=client_secret, form=form
        )
    except httpx.TimeoutException as exc:
        raise TokenRefreshTransientError(
            source_id, METHOD, f"token refresh timed out ({type(exc).__name__})"
        ) from None
    except httpx.TransportError as exc:
        raise TokenRefreshTransientError(
            source_id, METHOD, f"token refresh connection error ({type(exc).__name__})"
        ) from None
    code = safe_code(body.get("error")) if body is not None and body.get("error") else ""
    if status == 429 or status >= 500 or code in TRANSIENT_CODES:
        detail = f"token refresh: HTTP {status}" + (f", error {code!r}" if code else "")
        raise TokenRefreshTransientError(
            source_id, METHOD, detail, code=code or "http_error", status=status
        )
    if body is None:
        raise TokenRefreshTransientError(
            source_id, METHOD, f"token refresh: HTTP {status} with {problem}", status=status
        )
    if status != 200 or body.get("ok") is not True:
        code = code or "unknown_error"
        hint = _HINTS.get(code, "run the install again if this persists")
        raise TokenRefreshError(
            source_id,
            METHOD,
            f"token refresh refused: HTTP {status}, error {code!r}: {hint}",
            code=code,
            status=status,
        )
    try:
        new = _from_response(body, prefer_user=False)
    except ValueError:
        raise TokenRefreshError(
            source_id,
            METHOD,
            "token refresh answered ok but with no access token",
            code="no_token",
            status=status,
        ) from None
    if new.refresh_token is None:
        # Slack always rotates the refresh token; if one is ever missing, keep the old one
        # rather than lose the ability to refresh at all.
        new = _replace(new, refresh_token=refresh_token)
    return new


def _replace(ts: TokenSet, **changes: Any) -> TokenSet:
    data: dict[str, Any] = {
        "access_token": ts.access_token,
        "refresh_token": ts.refresh_token,
        "expires_at": ts.expires_at,
        "scopes": ts.scopes,
        "token_type": ts.token_type,
        "team_id": ts.team_id,
        "enterprise_id": ts.enterprise_id,
        "is_enterprise_install": ts.is_enterprise_install,
        "user_id": ts.user_id,
    }
    data.update(changes)
    return TokenSet(**data)


def _merge(old: TokenSet, new: TokenSet) -> TokenSet:
    """A refresh answer may omit what the install answer had; keep the install's facts."""
    return _replace(
        new,
        scopes=new.scopes or old.scopes,
        team_id=new.team_id or old.team_id,
        enterprise_id=new.enterprise_id or old.enterprise_id,
        is_enterprise_install=new.is_enterprise_install or old.is_enterprise_install,
        user_id=new.user_id or old.user_id,
    )


# --------------------------------------------------------------------------- token file


class TokenStorage(Protocol):
    """Where one source's TokenSet lives: a file (`TokenFile`) or, with replicas, a shared
    store. `locked()` is held around a refresh across every process that shares it, so a
    single-use refresh token is spent once; `stamp()` changes whenever the pair does."""

    path: Any

    def stamp(self) -> Any: ...

    def load(self) -> TokenSet | None: ...

    def save(self, token_set: TokenSet) -> None: ...

    def locked(self) -> contextlib.AbstractContextManager[None]: ...


class TokenFile:
    """One source's TokenSet as JSON at `path`: atomic writes, mode 0600, dir 0700."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"TokenFile({str(self.path)!r})"

    def stamp(self) -> tuple[int, int, int] | None:
        """(inode, mtime_ns, size), or None when absent: cheap change detection."""
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise TokenFileError(f"cannot stat {self.path} ({exc.strerror})") from None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def load(self) -> TokenSet | None:
        """The saved TokenSet, None when there is no file; TokenFileError when unreadable."""
        try:
            raw = self.path.read_bytes()
            mode = self.path.stat().st_mode
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise TokenFileError(f"cannot read {self.path} ({exc.strerror})") from None
        if mode & 0o077:
            log.warning(
                "token file is readable by group or others; chmod 600 it",
                extra={"path": str(self.path)},
            )
        try:
            doc = orjson.loads(raw)
            if not isinstance(doc, dict) or not isinstance(doc.get("token"), dict):
                raise ValueError("no token object")
            if doc.get("version") != FILE_VERSION:
                raise ValueError(f"unsupported version {doc.get('version')!r}")
            return TokenSet.from_dict(doc["token"])
        except ValueError as exc:  # orjson.JSONDecodeError is a ValueError
            reason = str(exc) if not isinstance(exc, orjson.JSONDecodeError) else "not JSON"
            raise TokenFileError(f"{self.path} is corrupt ({reason})") from None

    def save(self, token_set: TokenSet) -> None:
        """Write atomically: a reader (or a restart) sees the old pair or the new, whole."""
        doc = {"version": FILE_VERSION, "saved_at": clock.now_ts(), "token": token_set.to_dict()}
        data = orjson.dumps(doc, option=orjson.OPT_INDENT_2)
        try:
            fsutil.atomic_write(self.path, data, mode=0o600, private=True)
        except OSError as exc:
            raise TokenFileError(f"cannot write {self.path} ({exc.strerror})") from None

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Exclusive lock on `<path>.lock` across processes, held around a refresh."""
        lock_path = self.path.with_name(self.path.name + ".lock")
        try:
            fsutil.private_dir(lock_path.parent)
            fd = fsutil.lock_file(lock_path, wait=True)
        except OSError as exc:
            raise TokenFileError(f"cannot open {lock_path} ({exc.strerror})") from None
        try:
            yield
        finally:
            fsutil.unlock_file(fd)


# --------------------------------------------------------------------------- rotating token


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
        self._set, self._unsaved = _merge(old, new), True
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
    "PERMANENT_REFRESH_CODES",
    "REFRESH_BEFORE_SECONDS",
    "RotatingToken",
    "TokenFile",
    "TokenFileError",
    "TokenRefreshError",
    "TokenRefreshTransientError",
    "TokenStorage",
    "default_token_path",
    "refresh",
]
