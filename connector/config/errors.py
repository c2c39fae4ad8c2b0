"""The one error a configuration problem becomes: `ConfigError`, naming the field, and
`describe`, which phrases pydantic's first validation error that way.

The CLI prints it and exits 2. Every part of config reading raises it, so it lives apart
from the models, the loader and the environment overrides, which all import it.
"""

from __future__ import annotations

import re

from pydantic import ValidationError


class ConfigError(Exception):
    """A configuration problem, phrased for the operator, naming the field."""


def describe(exc: ValidationError) -> str:
    """The first error as `sources[0].token_env: message`, the way an operator reads it."""
    err = exc.errors()[0]
    where = ""
    for item in err["loc"]:
        where += f"[{item}]" if isinstance(item, int) else (f".{item}" if where else str(item))
    where = where or "config"
    message = str(err["msg"]).removeprefix("Value error, ")
    if match := re.match(r"^(\[\d+\])?([\w.\[\]]+)?: ", message):
        name = (match.group(2) or "").lstrip(".")
        field = (match.group(1) or "") + (f".{name}" if name else "")
        where, message = f"{where}{field}", message[match.end() :]
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{where}: {message}{more}"
