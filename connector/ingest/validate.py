"""Validation against a log type's model, turning failures into a reason a human can act on."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from connector.logtypes.base import LogType, Validated
from connector.logtypes.fields import MAX_UNIX_TIME

MAX_REASONS = 5


def validate(logtype: LogType, raw: Any) -> Validated | str:
    """The validated record, or why it is invalid (the string goes to quarantine with it)."""
    if not isinstance(raw, dict):
        return not_an_object(raw)
    try:
        record: Validated = type(logtype).validate_record(raw)
        return record
    except ValidationError as exc:
        return explain(exc)


def not_an_object(raw: Any) -> str:
    return f"record is a JSON {type(raw).__name__}, not an object"


def explain(exc: ValidationError) -> str:
    """The first few failures, each as `path: message`."""
    reasons = [
        f"{'.'.join(str(p) for p in err['loc']) or '(record)'}: {_message(err)}"
        for err in exc.errors()[:MAX_REASONS]
    ]
    if exc.error_count() > MAX_REASONS:
        reasons.append(f"and {exc.error_count() - MAX_REASONS} more")
    return "; ".join(reasons)


def _message(err: Any) -> str:
    """Pydantic's message, and for a too-large unix time what it most likely is."""
    if err.get("type") == "less_than_equal" and (err.get("ctx") or {}).get("le") == MAX_UNIX_TIME:
        return f"{err['msg']}: a unix time in seconds; this looks like milliseconds or worse"
    return str(err["msg"])


def unconvertible(exc: Exception) -> str:
    """Why a valid record still could not become an output row (the exception, no traceback)."""
    return f"cannot build an output row: {type(exc).__name__}: {exc}"[:500]
