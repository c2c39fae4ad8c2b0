"""Environment overrides of the TOML file: `SLACK_CONNECTOR__SECTION__KEY=value`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from connector.config.errors import ConfigError

ENV_PREFIX = "SLACK_CONNECTOR__"


def apply_env(data: dict[str, Any], environ: Mapping[str, str]) -> None:
    """`SLACK_CONNECTOR__OUTPUT__BUCKET=x` sets `[output] bucket`; list items by index."""
    for name, raw in sorted(environ.items()):
        if not name.startswith(ENV_PREFIX):
            continue
        path = [p.lower() for p in name[len(ENV_PREFIX) :].split("__") if p]
        if not path:
            continue
        node: Any = data
        for part in path[:-1]:
            if isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            elif isinstance(node, dict):
                node = node.setdefault(part, {})
            else:
                raise ConfigError(f"{name}: does not match a config field")
        if not isinstance(node, dict):
            raise ConfigError(f"{name}: does not match a config field")
        node[path[-1]] = _env_value(name, raw)


def _env_value(name: str, raw: str) -> Any:
    """Lists and tables as JSON; scalars stay strings and pydantic coerces them per field."""
    if raw.lstrip()[:1] in ("[", "{"):
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise ConfigError(f"{name}: not valid JSON") from None
    return raw
