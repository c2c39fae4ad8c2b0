"""One pooled httpx client per source that turns Slack's answers into dicts or typed errors.

Slack reports failure in several shapes: Web API errors are HTTP 200 with `ok: false`,
the Audit API uses real status codes with an optional JSON body, the edge answers with
HTML pages, and bodies can arrive truncated. All of them end up here as a parsed dict or
one of the errors in `errors.py`, so pollers only deal with data.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import logging
import random
import secrets
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
import orjson
from pydantic import SecretStr
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from connector.budget import MEMORY
from connector.slack.errors import (
    SlackAuthError,
    SlackError,
    SlackRateLimitedError,
    SlackTransientError,
    classify,
)
from connector.slack.ratelimit import RateBudgets, TokenBucket

log = logging.getLogger(__name__)
RENEWABLE = frozenset({"token_expired", "invalid_auth", "token_revoked"})


class TokenProvider(Protocol):
    """Where the client gets its token (see `connector.credentials.provider`)."""

    def begin_poll(self) -> None:
        """A poll starts: a token cached for the previous one may be read again."""

    def current(self) -> SecretStr: ...

    def renew(self, rejected: SecretStr) -> SecretStr | None: ...

    def budget_key(self) -> str: ...


class _Fixed:
    def __init__(self, token: SecretStr) -> None:
        self._token = token

    def begin_poll(self) -> None:
        return None

    def current(self) -> SecretStr:
        return self._token

    def renew(self, rejected: SecretStr) -> SecretStr | None:
        return None

    def budget_key(self) -> str:
        return fingerprint(self._token)


@functools.cache
def tls() -> ssl.SSLContext:
    """One TLS context for every source's client: httpx builds one per client by default,
    loading the CA bundle each time, 0.85 MB per source (170 MB for 200 sources)."""
    return httpx.create_ssl_context()


_SALT = secrets.token_bytes(32)


def fingerprint(token: SecretStr) -> str:
    """A name for a token, stable for this process and useless outside it: the key of its
    organisation's budget, and how a parked source notices its secret changed. Keyed with
    a random per-process salt, so a stored or printed one cannot confirm a guessed token
    (a restart retries a parked source once, since its fingerprint changes)."""
    return hmac.new(_SALT, token.get_secret_value().encode(), hashlib.sha256).hexdigest()[:16]


Observer = Callable[[str, str, str, float], None]
"""Called per HTTP answer with (source id, method, status or failure kind, Retry-After)."""
AUDIT_PER_MINUTE = 50.0
WEB_PER_MINUTE = 20.0


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    initial_wait: float = 1.0
    max_wait: float = 30.0
    max_retry_after: float = 300.0


class SlackClient:
    """Talks to one source's Slack organisation or workspace with one token."""

    def __init__(
        self,
        source_id: str,
        tokens: TokenProvider | SecretStr,
        *,
        audit_api_url: str,
        web_api_url: str,
        http: httpx.Client,
        budgets: RateBudgets,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None],
        team_id: str | None = None,
        audit_per_minute: float = AUDIT_PER_MINUTE,
        web_per_minute: float = WEB_PER_MINUTE,
        observe: Observer | None = None,
    ) -> None:
        self.source_id = source_id
        self._tokens = _Fixed(tokens) if isinstance(tokens, SecretStr) else tokens
        self._audit_url = audit_api_url.rstrip("/") + "/"
        self._web_url = web_api_url.rstrip("/") + "/"
        self._http = http
        self._budgets = budgets
        self._retry = retry or RetryPolicy()
        self._sleep = sleep
        self._team_id = team_id
        self._per_minute = {"audit": audit_per_minute, "web": web_per_minute}
        self._observe = observe or (lambda *_: None)
        self._honoured = 0.0

    def __repr__(self) -> str:
        return f"SlackClient(source_id={self.source_id!r})"

    def audit_logs(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._call("logs", self._audit_url + "logs", params, api="audit")

    def web(self, method: str, params: dict[str, Any], *, post: bool = False) -> dict[str, Any]:
        """A Web API method; `post` sends the arguments as a form (methods that write)."""
        if self._team_id:
            params = {**params, "team_id": self._team_id}
        return self._call(method, self._web_url + method, params, api="web", post=post)

    def _call(
        self, method: str, url: str, params: dict[str, Any], api: str, *, post: bool = False
    ) -> dict[str, Any]:
        retrying = Retrying(
            stop=stop_after_attempt(self._retry.attempts),
            retry=retry_if_exception(self._retryable),
            wait=self._wait,
            sleep=self._sleep,
            before_sleep=self._retrying,
            reraise=True,
        )
        try:
            result: dict[str, Any] = retrying(self._send, method, url, params, api, post)
        except SlackAuthError as exc:
            renewed = self._renew(exc)
            if renewed is None:
                raise
            self._used = renewed
            result = retrying(self._send, method, url, params, api, post)
        return result

    def _renew(self, exc: SlackAuthError) -> SecretStr | None:
        """A rotated, refreshed or re-read token deserves one more try before parking."""
        if exc.code not in RENEWABLE and exc.status != 401:
            return None
        rejected = getattr(self, "_used", None)
        return self._tokens.renew(rejected) if rejected is not None else None

    def _retryable(self, exc: BaseException) -> bool:
        if isinstance(exc, SlackRateLimitedError):
            return exc.retry_after <= self._retry.max_retry_after
        return isinstance(exc, SlackTransientError)

    def _retrying(self, state: RetryCallState) -> None:
        """One line per retry, so a poll against an unreachable Slack is not silent for
        the minute its backoff takes."""
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        fields = {
            "source_id": self.source_id,
            "method": getattr(exc, "method", ""),
            "attempt": state.attempt_number,
            "of": self._retry.attempts,
            "retry_in": round(wait, 1),
            "error": getattr(exc, "detail", None) or type(exc).__name__,
        }
        if isinstance(exc, SlackRateLimitedError):
            log.info("slack rate limited; waiting Retry-After", extra=fields)
            return
        log.warning(
            "slack request failed; retrying (`slack-connector check` tests each source at once)",
            extra=fields,
        )

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, SlackRateLimitedError):
            return exc.retry_after
        policy = self._retry
        backoff: float = policy.initial_wait * 2.0 ** (state.attempt_number - 1)
        return min(policy.max_wait, backoff) + random.uniform(0, policy.initial_wait)

    def _send(
        self, method: str, url: str, params: dict[str, Any], api: str, post: bool = False
    ) -> dict[str, Any]:
        secret = self._tokens.current()
        self._used = secret
        token = secret.get_secret_value()
        bucket_name = "audit" if api == "audit" else _per_workspace(method, self._team_id)
        bucket = self._budgets.bucket(self._tokens.budget_key(), bucket_name, self._per_minute[api])
        paused = bucket.paused_for()
        if paused > self._retry.max_retry_after:
            raise SlackRateLimitedError(self.source_id, method, paused)
        RateBudgets.wait(bucket, self._sleep, self._honoured)
        MEMORY.take_page()
        try:
            args = {k: v for k, v in params.items() if v is not None}
            with self._http.stream(
                "POST" if post else "GET",
                url,
                params=None if post else args,
                data=args if post else None,
                headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            ) as resp:
                content = self._read(method, resp)
            return self._parse(method, resp, content, api, bucket)
        except httpx.TimeoutException as exc:
            MEMORY.page_done()
            self._observe(self.source_id, method, "timeout", 0.0)
            raise SlackTransientError(
                self.source_id, method, f"timeout ({type(exc).__name__})"
            ) from None
        except httpx.TransportError as exc:
            MEMORY.page_done()
            self._observe(self.source_id, method, "connection_error", 0.0)
            raise SlackTransientError(
                self.source_id, method, f"connection error ({type(exc).__name__}: {exc})"
            ) from None
        except BaseException:
            MEMORY.page_done()
            raise

    def _read(self, method: str, resp: httpx.Response) -> bytes:
        """The (decoded) body, refused past the memory budget's cap: a wrong URL serving a
        file, or a gzip bomb, fails this request instead of exhausting memory."""
        cap = MEMORY.max_response_bytes
        declared = resp.headers.get("content-length", "")
        encoded = resp.headers.get("content-encoding", "identity") != "identity"
        size = int(declared) if declared.isdigit() and not encoded else 0
        chunks: list[bytes] = []
        if size <= cap:
            size = 0
            for chunk in resp.iter_bytes():
                size += len(chunk)
                if size > cap:
                    break
                chunks.append(chunk)
        if size > cap:
            self._observe(self.source_id, method, "too_large", 0.0)
            raise SlackTransientError(
                self.source_id,
                method,
                f"response body over {cap} bytes ([limits] max_response_bytes); not read further",
            )
        return b"".join(chunks)

    def _parse(
        self, method: str, resp: httpx.Response, content: bytes, api: str, bucket: TokenBucket
    ) -> dict[str, Any]:
        """`content` is read into a buffer of our own: an httpx response sits in a reference
        cycle, so a body it kept (megabytes for an audit page) would live until the next
        garbage collection, and memory grew by a page each poll between collections."""
        status = resp.status_code
        retry_after = _retry_after(resp) if status == 429 else 0.0
        self._observe(self.source_id, method, str(status), retry_after)
        if status == 429:
            self._honoured = bucket.pause(retry_after)
            raise SlackRateLimitedError(self.source_id, method, retry_after)
        body = _json_object(content)
        if status != 200:
            code = str(body.get("error", "")) if body else ""
            raise classify(
                self.source_id, method, code, status, needed=body.get("needed") if body else None
            )
        if body is None:
            kind = (
                "HTML"
                if "html" in resp.headers.get("content-type", "")
                else "truncated or non-JSON"
            )
            raise SlackTransientError(self.source_id, method, f"HTTP 200 with {kind} body")
        ok = body.get("ok")
        if ok is not True and (api == "web" or ok is False):
            code = str(body.get("error", ""))
            raise classify(self.source_id, method, code, status, needed=body.get("needed"))
        return body


def _per_workspace(method: str, team_id: str | None) -> str:
    """A Web API method's tier is per workspace: an org-level token reading several
    workspaces has one budget per (method, workspace), the Audit API one per org."""
    return f"{method}@{team_id}" if team_id else method


def _retry_after(resp: httpx.Response) -> float:
    try:
        return max(0.0, float(resp.headers.get("retry-after", "1")))
    except ValueError:
        return 1.0


def _json_object(content: bytes) -> dict[str, Any] | None:
    try:
        body = orjson.loads(content)
    except orjson.JSONDecodeError:
        body = _lenient_json(content)
    return body if isinstance(body, dict) else None


def _lenient_json(content: bytes) -> Any:
    """Complete JSON with invalid UTF-8 or lone surrogate escapes still holds records.

    Rejecting the page would fail the poll forever; instead the bad characters become
    U+FFFD / `?` and everything else lands as sent. Truncated bodies still fail here.
    """
    try:
        parsed = json.loads(content.decode("utf-8", errors="replace"))
    except ValueError:
        return None
    clean = json.dumps(parsed, ensure_ascii=False).encode("utf-8", errors="replace")
    log.warning("Slack response had invalid UTF-8 or unpaired surrogates; replaced them")
    return orjson.loads(clean)


__all__ = ["RetryPolicy", "SlackClient", "SlackError"]
