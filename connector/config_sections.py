"""The config tables that stand on their own: `[limits]`, `[daemon]`, `[metrics]`,
`[watchlist]` and `[slash_command]`, and `Strict`, the base of every table.

`connector.config` puts them together with the sources, output, alerts and state into
`Settings`.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from connector.budget import DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_PAGES, DEFAULT_WRITES
from connector.search import indicators
from connector.secrets import SecretRef


class Strict(BaseModel):
    """A config table: unknown keys are errors, and the values cannot change."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class LimitsConfig(Strict):
    """The process-wide memory budget (`connector.budget`), shared by every source."""

    pages_in_memory: int = Field(default=DEFAULT_PAGES, ge=1)
    writes_at_once: int = Field(default=DEFAULT_WRITES, ge=1)
    max_response_bytes: int = Field(default=DEFAULT_MAX_RESPONSE_BYTES, ge=1024)


class DaemonConfig(Strict):
    """How `run` behaves around its probes and its end."""

    shutdown_grace_seconds: float = Field(default=50.0, gt=0)
    sink_check_seconds: float = Field(default=30.0, gt=0)
    sink_check_timeout_seconds: float = Field(default=10.0, gt=0)


class MetricsConfig(Strict):
    enabled: bool = True
    address: str = "127.0.0.1"
    port: int = Field(default=9108, ge=0, le=65535)


class WatchlistConfig(Strict):
    """Indicators to alert on while ingesting: inline, in a file (re-read when it changes),
    and those added with `/seclogs watch add`."""

    indicators: list[str] = Field(default_factory=list)
    file: str | None = None
    max_alerts_per_hour: int = Field(default=60, ge=1)

    @field_validator("indicators")
    @classmethod
    def _parse_indicators(cls, value: list[str]) -> list[str]:
        for i, text in enumerate(value):
            try:
                indicators.parse(text)
            except indicators.IndicatorError as exc:
                raise ValueError(f"[{i}]: {exc}") from None
        return value


class SlashCommandConfig(Strict):
    """The `/seclogs` Slack slash command, served by `slack-connector run`."""

    enabled: bool = False
    address: str = "127.0.0.1"
    port: int = Field(default=3000, ge=0, le=65535)
    path: str = Field(default="/slack/commands", pattern=r"^/")
    signing_secret: SecretRef | None = None
    allowed_user_ids: list[str] = Field(default_factory=list)
    allowed_team_ids: list[str] = Field(default_factory=list)
    max_body_bytes: int = Field(default=8192, ge=512, le=1_048_576)
    answer_within_seconds: float = Field(default=2.0, gt=0, lt=3)
    search_limit: int = Field(default=20, ge=1, le=200)

    @model_validator(mode="after")
    def _complete_when_enabled(self) -> SlashCommandConfig:
        if self.enabled and self.signing_secret is None:
            raise ValueError("signing_secret: required when enabled = true")
        if self.enabled and not (self.allowed_user_ids or self.allowed_team_ids):
            raise ValueError(
                "allowed_team_ids: set allowed_team_ids or allowed_user_ids when enabled = true"
            )
        return self
