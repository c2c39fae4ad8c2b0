"""Reading a config: the TOML file, environment overrides, validation into `Settings`,
and (for commands that call Slack or send alerts) every secret reference read once.

Operators keep configs for years, so names are stable and unknown keys are errors (a typo
silently ignored is an outage later). Any problem becomes one `ConfigError` whose message
names the offending field; the CLI prints it and exits 2.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from connector.config.env import apply_env
from connector.config.errors import ConfigError, describe
from connector.config.secret_check import secret_problems
from connector.config.settings import Settings
from connector.indicators import match as indicators


def load(
    path: str | Path, environ: Mapping[str, str] | None = None, *, secrets: bool = True
) -> Settings:
    """Read, override from the environment, validate, and (with `secrets`) read every
    secret reference once, so one that is missing is found at start-up, not when an
    alert is sent. Commands that never call Slack or send alerts pass `secrets=False`."""
    environ = os.environ if environ is None else environ
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    apply_env(data, environ)
    settings = parse(data)
    if secrets:
        missing = [f"{where}: {problem}" for where, problem in secret_problems(settings)]
        if missing:
            raise ConfigError("; ".join(missing))
    if settings.watchlist.file:
        try:
            indicators.read_file(settings.watchlist.file)
        except OSError as exc:
            raise ConfigError(
                f"watchlist.file: cannot read {settings.watchlist.file} ({exc.strerror})"
            ) from None
        except indicators.IndicatorError as exc:
            raise ConfigError(f"watchlist.file: {exc}") from None
    return settings


def parse(data: dict[str, Any]) -> Settings:
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(describe(exc)) from None
