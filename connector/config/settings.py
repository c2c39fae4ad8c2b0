"""Settings: the models a TOML config file is validated into, with pydantic.

Reading the file, applying environment overrides and reading every secret reference once
is `connector.config.load`; the models here know nothing of either.

Operators keep configs for years, so names are stable and unknown keys are errors (a typo
silently ignored is an outage later). Tokens are never in the file: a source names the
environment variable or file that holds its token. Any problem becomes one `ConfigError`
whose message names the offending field; the CLI prints it and exits 2.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import (
    BaseModel,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from connector.config.detections import DetectionsConfig
from connector.config.errors import ConfigError, describe
from connector.config.ocsf import OcsfConfig
from connector.config.sections import (
    DaemonConfig,
    LimitsConfig,
    MetricsConfig,
    SlashCommandConfig,
    Strict,
    WatchlistConfig,
)
from connector.secrets import SecretError, SecretRef
from connector.state import StateOptions, options_model
from connector.state.options import SqliteOptions
from connector.urls import require_https

AUDIT_API_URL = "https://api.slack.com/audit/v1/"
WEB_API_URL = "https://slack.com/api/"


QuietAfter = int | dict[str, int] | None
"""Seconds without new events before a no-events alert: one number for every log type, a
table per log type, or unset for each log type's own default (`LogType.quiet_after`)."""


def _quiet_after(value: QuietAfter) -> QuietAfter:
    numbers = value.values() if isinstance(value, dict) else [] if value is None else [value]
    if any(n < 0 for n in numbers):
        raise ValueError("must be 0 (off) or more seconds")
    if isinstance(value, dict):
        _known(sorted(value))
    return value


def _known(log_types: Iterable[str]) -> None:
    """ValueError naming the first unregistered log type: one check and one wording for
    every field that lists or is keyed by log types."""
    from connector.logtypes import REGISTRY  # imported when used: search loads settings

    unknown = [v for v in log_types if v not in REGISTRY]
    if unknown:
        raise ValueError(f"unknown log type {unknown[0]!r}; choose from {sorted(REGISTRY)}")


StateConfig = SqliteOptions
"""The default `[state]` table (SQLite); `[state] type` picks another from the registry."""


class OutputConfig(Strict):
    type: Literal["s3", "local", "stdout"] = "local"
    path: str = "./output"
    bucket: str | None = None
    prefix: str = "slack"
    region: str | None = None
    endpoint_url: str | None = None
    kms_key_id: str | None = None
    checksum: Literal["auto", "when_required", "when_supported"] = "auto"
    ca_bundle: str | None = None
    conditional_writes: bool = True
    max_attempts: int = Field(default=3, ge=1)
    connect_timeout_seconds: float = Field(default=3.0, gt=0)
    read_timeout_seconds: float = Field(default=12.0, gt=0)
    batch_max_events: int = Field(default=10_000, ge=1)
    batch_max_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)
    hold_max_events: int = Field(default=1_000_000, ge=1)
    hold_max_bytes: int = Field(default=1024 * 1024 * 1024, ge=1024)
    spill_dir: str | None = None
    partitions: dict[str, Literal["hour", "day"]] = Field(default_factory=dict)
    search_index: bool = True
    """Write a search index beside each object (`connector.search.index`); local and s3."""

    @field_validator("partitions")
    @classmethod
    def _known_partitions(cls, value: dict[str, str]) -> dict[str, str]:
        _known(value)
        return value

    @field_validator("prefix")
    @classmethod
    def _strip_prefix(cls, value: str) -> str:
        return value.strip("/")

    @model_validator(mode="after")
    def _bucket_for_s3(self) -> OutputConfig:
        if self.type == "s3" and not self.bucket:
            raise ValueError('bucket: required when type = "s3"')
        return self

    @property
    def checksums(self) -> Literal["when_required", "when_supported"]:
        """botocore's `request_checksum_calculation` and `response_checksum_validation`.

        Since botocore 1.36 "when_supported" sends every PutObject over TLS as
        `aws-chunked` with a trailing CRC32, which stores that do not speak it (s3rver;
        MinIO, Ceph, R2 and GCS have each had trouble) keep as the object's body. So an
        `endpoint_url` means "when_required" unless the operator says otherwise; the
        writer compares the returned ETag with the body either way."""
        if self.checksum != "auto":
            return self.checksum
        return "when_required" if self.endpoint_url else "when_supported"

    @property
    def ca_file(self) -> str | None:
        """The CA bundle for the store's TLS certificate: `ca_bundle`, else boto3's own
        `AWS_CA_BUNDLE`, so search (DuckDB) trusts what the writer (boto3) trusts."""
        return self.ca_bundle or os.environ.get("AWS_CA_BUNDLE") or None


BOTOCORE_MAX_BACKOFF = 20.0
"""botocore's standard retry mode waits up to 2^(n-1) s (capped at 20 s) after attempt n."""


class S3Timeouts(Protocol):
    max_attempts: int
    connect_timeout_seconds: float
    read_timeout_seconds: float


def s3_worst_seconds(out: S3Timeouts) -> float:
    """How long one S3 request can take before it fails: `max_attempts` attempts in all
    (botocore's `total_max_attempts`), each up to its connect and read timeouts, and the
    longest backoff botocore may sleep between them."""
    per_attempt = out.connect_timeout_seconds + out.read_timeout_seconds
    backoff = sum(min(2.0**n, BOTOCORE_MAX_BACKOFF) for n in range(out.max_attempts - 1))
    return out.max_attempts * per_attempt + backoff


class OAuthConfig(Strict):
    """A Slack app installed with `slack-connector auth`; tokens rotate when Slack says so."""

    client_id: str = Field(min_length=1)
    client_secret: SecretRef
    redirect_uri: str = "http://127.0.0.1:8765/slack/oauth/callback"
    token_store: str | None = None
    token_url: str = "https://slack.com/api/oauth.v2.access"  # noqa: S105 - a URL
    authorize_url: str = "https://slack.com/oauth/v2/authorize"
    refresh_before_seconds: int = Field(default=7200, ge=60)

    @field_validator("token_url", "authorize_url")
    @classmethod
    def _https(cls, value: str) -> str:
        return require_https(value)


class SourceConfig(Strict):
    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    label: str = ""
    log_types: list[str] = Field(
        default_factory=lambda: ["audit", "access", "integration"], min_length=1
    )
    token_env: str | None = None
    token_file: str | None = None
    token: SecretRef | None = None
    oauth: OAuthConfig | None = None
    team_id: str | None = None
    team_ids: Literal["all"] | list[str] | None = None
    """Enterprise Grid, an org-level token: poll team.accessLogs and team.integrationLogs
    once per workspace, every one `admin.teams.list` names ("all") or these."""
    audit_api_url: str = AUDIT_API_URL
    web_api_url: str = WEB_API_URL
    poll_interval_seconds: int = Field(default=60, ge=1)
    first_run_lookback_seconds: int = Field(default=86_400, ge=0)
    late_event_overlap_seconds: int = Field(default=300, ge=0)
    page_size: int | None = Field(default=None, ge=1)
    http_timeout_seconds: float = Field(default=30.0, gt=0)
    retry_attempts: int = Field(default=5, ge=1)
    retry_backoff_seconds: float = Field(default=1.0, gt=0)
    max_retry_after_seconds: float = Field(default=300.0, ge=0)
    audit_calls_per_minute: float = Field(default=50.0, gt=0)
    web_calls_per_minute: float = Field(default=20.0, gt=0)
    no_events_after_seconds: QuietAfter = None
    park_retry_seconds: int = Field(default=300, ge=10)

    _quiet = field_validator("no_events_after_seconds")(_quiet_after)

    @field_validator("id")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        """`watchlist` and `detections` prefix their own state keys; `state reset` of such a
        source would wipe them."""
        if value in ("watchlist", "detections"):
            raise ValueError(f"{value!r} is reserved for the {value} state keys; pick another id")
        return value

    @field_validator("log_types")
    @classmethod
    def _known_log_types(cls, value: list[str]) -> list[str]:
        _known(value)
        return list(dict.fromkeys(value))

    @field_validator("audit_api_url", "web_api_url")
    @classmethod
    def _https_url(cls, value: str) -> str:
        require_https(value)
        return value if value.endswith("/") else value + "/"

    @field_validator("team_ids")
    @classmethod
    def _team_ids(
        cls, value: Literal["all"] | list[str] | None
    ) -> Literal["all"] | list[str] | None:
        if isinstance(value, list):
            bad = [t for t in value if not re.fullmatch(r"[TE][A-Z0-9]{2,31}", t)]
            if bad or not value:
                raise ValueError(
                    f"{bad[0]!r} is not a workspace id (T...)" if bad else 'empty; use "all"'
                )
            return list(dict.fromkeys(value))
        return value

    @model_validator(mode="after")
    def _grid(self) -> SourceConfig:
        if self.team_ids is not None and self.team_id is not None:
            raise ValueError("team_ids: set team_id (one workspace) or team_ids, not both")
        return self

    @property
    def per_workspace(self) -> tuple[str, ...]:
        """The log types polled once per workspace with `team_ids` (the audit log is the
        organisation's own)."""
        if self.team_ids is None:
            return ()
        from connector.logtypes import REGISTRY

        return tuple(t for t in self.log_types if REGISTRY[t].per_workspace)

    @model_validator(mode="after")
    def _one_token_source(self) -> SourceConfig:
        given = [self.token_env, self.token_file, self.token, self.oauth]
        if sum(1 for g in given if g) != 1:
            raise ValueError("set exactly one of token_env, token_file, token or oauth")
        return self

    @property
    def display_label(self) -> str:
        return self.label or self.id

    def read_token(self) -> SecretStr:
        """Read the token now, so a rotated file, variable or secret is picked up at once."""
        if self.token is not None:
            try:
                return self.token.resolve()
            except SecretError as exc:
                raise ConfigError(f"source {self.id!r}: token: {exc}") from None
        if self.oauth is not None:
            raise ConfigError(f"source {self.id!r}: oauth: tokens come from the token store")
        if self.token_env:
            value = os.environ.get(self.token_env, "").strip()
            if not value:
                raise ConfigError(
                    f"source {self.id!r}: token_env: variable {self.token_env} is not set"
                )
            return SecretStr(value)
        assert self.token_file is not None
        try:
            value = Path(self.token_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(
                f"source {self.id!r}: token_file: cannot read {self.token_file} ({exc.strerror})"
            ) from None
        if not value:
            raise ConfigError(f"source {self.id!r}: token_file: {self.token_file} is empty")
        return SecretStr(value)


class AlertsConfig(Strict):
    no_events_after_seconds: QuietAfter = None
    failing_after_failures: int = Field(default=3, ge=1)
    quarantine_threshold: int = Field(default=1, ge=0)
    renotify_seconds: int = Field(default=14_400, ge=60)
    delivery_attempts: int = Field(default=5, ge=1)
    destinations: list[BaseModel] = Field(default_factory=list)

    _quiet = field_validator("no_events_after_seconds")(_quiet_after)

    @field_validator("destinations", mode="before")
    @classmethod
    def _destinations(cls, value: Any) -> list[BaseModel]:
        """Each table is validated by its destination's own model, picked by `type`."""
        if not isinstance(value, list):
            raise ValueError("must be a list of [[alerts.destinations]] tables")
        from connector.alerts import destinations  # imported when used: search loads settings

        out = []
        for i, table in enumerate(value):
            if isinstance(table, BaseModel):
                out.append(table)
                continue
            kind = table.get("type") if isinstance(table, dict) else None
            try:
                model = destinations.options_model(str(kind))
            except ValueError as exc:
                raise ValueError(f"[{i}].type: {exc}") from None
            try:
                out.append(model.model_validate(table))
            except ValidationError as exc:
                raise ValueError(f"[{i}].{describe(exc)}") from None
        return out


class Settings(Strict):
    state: StateOptions = SqliteOptions()
    output: OutputConfig = OutputConfig()
    alerts: AlertsConfig = AlertsConfig()
    metrics: MetricsConfig = MetricsConfig()
    limits: LimitsConfig = LimitsConfig()
    daemon: DaemonConfig = DaemonConfig()
    watchlist: WatchlistConfig = WatchlistConfig()
    detections: DetectionsConfig = DetectionsConfig()
    ocsf: OcsfConfig = OcsfConfig()
    slash_command: SlashCommandConfig = SlashCommandConfig()
    sources: list[SourceConfig] = Field(min_length=1)

    @field_validator("state", mode="before")
    @classmethod
    def _state(cls, value: Any) -> StateOptions:
        """Validated by the model of its `type`, like an alert destination."""
        if isinstance(value, StateOptions):
            return value
        model = options_model(value)
        try:
            return model.model_validate(value)
        except ValidationError as exc:
            raise ValueError(describe(exc).removeprefix("config")) from None

    @model_validator(mode="after")
    def _s3_fits_the_grace(self) -> Settings:
        """A write stuck on S3 (the output bucket or the OCSF lake) must give up before
        the shutdown grace runs out: every attempt's timeouts plus botocore's longest
        backoff between them."""
        lake = self.ocsf.enabled and self.ocsf.output == "s3"
        for name, out, used in (
            ("output", self.output, self.output.type == "s3"),
            ("ocsf", self.ocsf, lake),
        ):
            worst = s3_worst_seconds(out)
            if used and worst > self.daemon.shutdown_grace_seconds:
                raise ValueError(
                    f"{name}.read_timeout_seconds: max_attempts x (connect_timeout_seconds + "
                    f"read_timeout_seconds) plus retry backoff is {worst:g}s, more than "
                    f"daemon.shutdown_grace_seconds ({self.daemon.shutdown_grace_seconds:g}s); "
                    "lower them or raise the grace"
                )
        return self

    @model_validator(mode="after")
    def _unique_ids(self) -> Settings:
        ids = [s.id for s in self.sources]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"id: duplicate source id {dupes[0]!r}")
        return self
