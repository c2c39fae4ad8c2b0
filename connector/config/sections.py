"""The config tables that stand on their own: `[limits]`, `[daemon]`, `[metrics]`,
`[watchlist]` and `[slash_command]`, and `Strict`, the base of every table.

`connector.config.settings` puts them together with the sources, output, alerts and state into
`Settings`.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from connector.budget import DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_PAGES, DEFAULT_WRITES
from connector.indicators import match as indicators
from connector.secrets import SecretRef
from connector.urls import require_https


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


class NamedList(Strict):
    """A named watchlist (TruSTAR's enclave): where analysts put what they submit from
    Slack, and who answers for it."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    owners: list[str] = Field(default_factory=list)
    """Slack user ids; when given, only they may add to the list from Slack."""
    description: str = Field(default="", max_length=150)


class WatchlistConfig(Strict):
    """Indicators to alert on while ingesting: inline, in a file (re-read when it changes),
    and those added from Slack (`/seclogs watch add`, `submit`, `report`) into the named
    `lists`, the first of which `watch add` uses."""

    indicators: list[str] = Field(default_factory=list)
    file: str | None = None
    max_alerts_per_hour: int = Field(default=60, ge=1)
    lists: list[NamedList] = Field(
        default_factory=lambda: [NamedList(name="default")], min_length=1, max_length=100
    )

    @field_validator("lists")
    @classmethod
    def _unique_names(cls, value: list[NamedList]) -> list[NamedList]:
        names = [n.name for n in value]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate list name {dupes[0]!r}")
        return value

    def named(self, name: str) -> NamedList | None:
        return next((n for n in self.lists if n.name == name), None)

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
    """The `/seclogs` Slack slash command, served by `slack-connector run`, and its modals:
    `interactivity_path` takes their submissions, `bot_token` opens them (`views.open`)."""

    enabled: bool = False
    address: str = "127.0.0.1"
    port: int = Field(default=3000, ge=0, le=65535)
    path: str = Field(default="/slack/commands", pattern=r"^/")
    interactivity_path: str = Field(default="/slack/interactivity", pattern=r"^/")
    signing_secret: SecretRef | None = None
    bot_token: SecretRef | None = None
    web_api_url: str = "https://slack.com/api/"
    allowed_user_ids: list[str] = Field(default_factory=list)
    allowed_team_ids: list[str] = Field(default_factory=list)
    allowed_channel_ids: list[str] = Field(default_factory=list)
    max_body_bytes: int = Field(default=8192, ge=512, le=1_048_576)
    max_interaction_bytes: int = Field(default=65_536, ge=4096, le=1_048_576)
    """A modal's submission carries the whole view back, URL-encoded JSON with up to
    6,000 characters typed: far more than a slash command."""
    answer_within_seconds: float = Field(default=2.0, gt=0, lt=3)
    search_limit: int = Field(default=20, ge=1, le=200)
    search_processes: int = Field(default=2, ge=0, le=16)
    """Searches from Slack run in this many worker processes at most, out of the daemon's
    interpreter; 0 runs them on the daemon's own thread (as before)."""
    search_deadline_seconds: float = Field(default=60.0, gt=0, le=600)
    """A search from Slack is stopped after this long, and its answer gives the command
    that finishes it."""

    @field_validator("web_api_url")
    @classmethod
    def _https_url(cls, value: str) -> str:
        require_https(value)
        return value if value.endswith("/") else value + "/"

    @model_validator(mode="after")
    def _complete_when_enabled(self) -> SlashCommandConfig:
        if self.path == self.interactivity_path:
            raise ValueError("interactivity_path: must differ from path")
        if self.enabled and self.signing_secret is None:
            raise ValueError("signing_secret: required when enabled = true")
        if self.enabled and not (self.allowed_user_ids or self.allowed_team_ids):
            raise ValueError(
                "allowed_team_ids: set allowed_team_ids or allowed_user_ids when enabled = true"
            )
        return self
