"""Polls one source: its Slack client, the pipeline per log type, and the error policy.

The policy, from the error's class: auth and plan errors park the (source, log type) and
are retried every `park_retry_seconds`, and at once when the token's secret changes (a
replaced env var, file, AWS secret or re-installed token file), so a fixed token resumes
on the next scheduled poll instead of up to a quarter of an hour later; transient
errors fail this poll and the next one tries again; nothing here ever raises into the
scheduler, so one bad source never stops the others.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from connector import __version__, clock
from connector.config.errors import ConfigError
from connector.config.settings import SourceConfig
from connector.credentials import provider as credentials
from connector.ingest.enrich import Source
from connector.ingest.pipeline import Pipeline, PollResult
from connector.logtypes import REGISTRY
from connector.logtypes.base import PollContext, PollStopped
from connector.secrets import SecretError
from connector.sinks.base import SinkError
from connector.slack.client import Observer, RetryPolicy, SlackClient, TokenProvider, tls
from connector.slack.errors import SlackAuthError, SlackError
from connector.slack.ratelimit import RateBudgets
from connector.state import LeaseLost, StateError, StateOptions
from connector.state.token_store import TokenFileError

log = logging.getLogger(__name__)


@dataclass
class Outcome:
    source_id: str
    log_type: str
    state: str
    detail: str = ""
    result: PollResult | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.state == "ok"


class SourceRunner:
    def __init__(
        self,
        cfg: SourceConfig,
        pipeline: Pipeline,
        budgets: RateBudgets,
        stop: threading.Event,
        observe: Observer | None = None,
        state: StateOptions | None = None,
    ) -> None:
        self.cfg = cfg
        self.source = Source(cfg.id, cfg.display_label)
        self.pipeline = pipeline
        self.store = pipeline.store
        self._budgets = budgets
        self._stop = stop
        self._observe = observe
        self._state = state
        self._tokens: credentials.Credential | None = None
        self._http = httpx.Client(
            verify=tls(),
            timeout=httpx.Timeout(cfg.http_timeout_seconds, connect=10.0),
            headers={"User-Agent": f"slack-security-connector/{__version__}"},
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        return f"SourceRunner(source_id={self.cfg.id!r})"

    def close(self) -> None:
        self._http.close()

    def credential(self) -> credentials.Credential:
        if self._tokens is None:
            self._tokens = credentials.provider(self.cfg, self._state, self._http)
        return self._tokens

    def client(self, team_id: str | None = None) -> SlackClient:
        """A client for one poll: a static token is read once for it (`begin_poll`);
        `team_id` picks the workspace an org-level token reads (Enterprise Grid)."""
        credential = self.credential()
        credential.begin_poll()
        return slack_client(
            self.cfg,
            credential,
            self._http,
            self._budgets,
            self._sleep,
            observe=self._observe,
            team_id=team_id,
        )

    def _still_parked(self, status: dict[str, Any], now: int) -> bool:
        """Parked, not yet due for a retry, and the token's secret has not changed since."""
        if status.get("state") != "parked":
            return False
        if now - int(status.get("since", 0)) >= self.cfg.park_retry_seconds:
            return False
        return status.get("credential") == self._credential_version()

    def _credential_version(self) -> str:
        try:
            return self.credential().version()
        except (ConfigError, SecretError, TokenFileError):
            return "unreadable"

    def context(self, now: int, team_id: str | None = None) -> PollContext:
        return PollContext(
            source_id=self.cfg.id,
            client=self.client(team_id),
            checkpoint=None,
            now=now,
            first_run_lookback=self.cfg.first_run_lookback_seconds,
            late_overlap=self.cfg.late_event_overlap_seconds,
            page_size=self.cfg.page_size,
            stop=self._stop,
        )

    def _sleep(self, seconds: float) -> None:
        if self._stop.wait(seconds):
            raise PollStopped(self.cfg.id)

    def poll(self, log_type: str, *, force: bool = False, team_id: str | None = None) -> Outcome:
        """One poll of one log type (of one workspace, with `team_id`); never raises,
        always reports, under the stream's own id (`Source.stream`)."""
        source = Source(self.cfg.id, self.cfg.display_label, team_id) if team_id else self.source
        started = time.monotonic()
        try:
            outcome = self._poll(source, log_type, force)
        except LeaseLost as exc:
            outcome = self._lease_lost(source.stream, log_type, exc)
        except StateError as exc:
            fields = {"source_id": source.stream, "log_type": log_type, "error": str(exc)}
            log.error("state store failed", extra=fields)
            outcome = Outcome(source.stream, log_type, "failing", str(exc))
        outcome.seconds = time.monotonic() - started
        return outcome

    def _poll(self, source: Source, log_type: str, force: bool) -> Outcome:
        sid = source.stream
        status = self.store.status(sid, log_type) or {}
        now = clock.now_ts()
        if not force and self._still_parked(status, now):
            return Outcome(sid, log_type, "parked", str(status.get("detail", "")))
        logtype = REGISTRY[log_type]()
        started_at = time.monotonic()
        fields = {"source_id": sid, "log_type": log_type}
        try:
            result = self.pipeline.poll(source, logtype, self.context(now, source.team_id))
        except PollStopped:
            log.info("poll stopped for shutdown", extra=fields)
            return Outcome(sid, log_type, "stopped")
        except LeaseLost as exc:
            return self._lease_lost(sid, log_type, exc)
        except SlackAuthError as exc:
            return self._fail(
                sid, log_type, status, "parked", str(exc), {**fields, "code": exc.code}
            )
        except (SlackError, SinkError, ConfigError, SecretError, TokenFileError, StateError) as exc:
            return self._fail(sid, log_type, status, "failing", str(exc), fields)
        except Exception as exc:
            log.exception("poll crashed", extra=fields)
            return self._fail(
                sid, log_type, status, "failing", f"internal error: {type(exc).__name__}", fields
            )
        try:
            self._succeed(sid, log_type, status, result, now)
        except StateError as exc:  # LeaseLost too: the poll's commits stand either way
            log.warning("poll status not recorded", extra={**fields, "error": str(exc)})
        log.info(
            "poll done",
            extra={
                **fields,
                "fetched": result.fetched,
                "written": result.written,
                "quarantined": result.quarantined,
                "duplicates": result.duplicates,
                "objects": result.objects,
                "bytes": result.bytes,
                "pages": result.pages,
                **({"derived": result.derived} if result.derived else {}),
                "seconds": round(time.monotonic() - started_at, 3),
            },
        )
        return Outcome(sid, log_type, "ok", result=result)

    def _lease_lost(self, sid: str, log_type: str, exc: LeaseLost) -> Outcome:
        """Another replica took the stream mid-poll (this one was slow or paused), or its
        lease lapsed here (a renewal ran late; the next round renews it): not a failure
        of the stream. Nothing past the last commit was kept, its status is the new
        holder's to write, and the new holder polls it at once (`on_taken`)."""
        fields = {"source_id": sid, "log_type": log_type, "detail": str(exc)}
        if exc.lapsed:
            log.warning("poll ended: lease lapsed", extra=fields)
        else:
            log.info("poll ended: lease moved to another replica", extra=fields)
        return Outcome(sid, log_type, "lease_lost", str(exc))

    def _succeed(
        self, sid: str, log_type: str, status: dict[str, Any], result: PollResult, now: int
    ) -> None:
        new = {
            "state": "ok",
            "last_success": now,
            "last_event": now if result.written else status.get("last_event"),
            "newest_event": max(int(result.newest_event), int(status.get("newest_event") or 0))
            or None,
            "first_poll": status.get("first_poll", now),
            "failures": 0,
            "quarantined_total": int(status.get("quarantined_total", 0)) + result.quarantined,
        }
        derived = dict(status.get("derived_total") or {})
        for output, n in result.derived.items():
            derived[output] = int(derived.get(output, 0)) + n
        if derived:
            new["derived_total"] = derived
        self.store.set_status(sid, log_type, new)

    def _fail(
        self,
        sid: str,
        log_type: str,
        status: dict[str, Any],
        state: str,
        detail: str,
        fields: dict[str, Any],
    ) -> Outcome:
        now = clock.now_ts()
        new = {
            **status,
            "state": state,
            "detail": detail,
            "since": status.get("since", now) if status.get("state") == state else now,
            "failures": int(status.get("failures", 0)) + 1,
            "first_poll": status.get("first_poll", now),
        }
        if state == "parked":
            new["since"] = now
            new["credential"] = self._credential_version()
        self.store.set_status(sid, log_type, new)
        log.error("poll failed", extra={**fields, "state": state, "error": detail})
        return Outcome(sid, log_type, state, detail)


def slack_client(
    cfg: SourceConfig,
    tokens: TokenProvider,
    http: httpx.Client,
    budgets: RateBudgets,
    sleep: Callable[[float], None],
    *,
    retry: RetryPolicy | None = None,
    observe: Observer | None = None,
    team_id: str | None = None,
) -> SlackClient:
    """A client for one source as its config says; `retry` overrides the configured policy."""
    return SlackClient(
        cfg.id,
        tokens,
        audit_api_url=cfg.audit_api_url,
        web_api_url=cfg.web_api_url,
        http=http,
        budgets=budgets,
        retry=retry
        or RetryPolicy(
            attempts=cfg.retry_attempts,
            initial_wait=cfg.retry_backoff_seconds,
            max_retry_after=cfg.max_retry_after_seconds,
        ),
        sleep=sleep,
        team_id=team_id or cfg.team_id,
        audit_per_minute=cfg.audit_calls_per_minute,
        web_per_minute=cfg.web_calls_per_minute,
        observe=observe,
    )
