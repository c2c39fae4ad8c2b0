"""JSON logs on stderr, with every known secret scrubbed before a line is written.

Redaction is a filter on the handler, so a token that reaches a message through an
exception string or a library's log call is still replaced. Token-shaped strings (xox?-…,
Slack webhook URLs) are scrubbed even when they were never registered.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
import weakref
from typing import Any

import orjson

from connector import clock

_PATTERNS = [
    re.compile(r"xox[abeoprs]-[A-Za-z0-9-]+"),
    re.compile(r"xoxe\.xox[bp]-[A-Za-z0-9-]+"),
    re.compile(r"https://hooks\.slack\.com/[^\s\"']+"),
    re.compile(r"(?i)(authorization:\s*bearer\s+)\S+"),
]
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class Redactor(logging.Filter):
    """Replaces registered secrets and token-shaped strings with `[REDACTED]`.

    A secret registered with an `owner` (a source's token, a secret reference, an OAuth
    pair) replaces what that owner registered before: a token rotated every few hours for
    weeks leaves one entry, not thousands, and every log line is scrubbed only against
    secrets that are still live.
    """

    def __init__(self) -> None:
        super().__init__()
        self._fixed: set[str] = set()
        self._owned: dict[str, frozenset[str]] = {}
        self._sorted: list[str] = []
        self._lock = threading.Lock()

    def add(self, secret: str, *more: str, owner: str | None = None) -> None:
        kept = frozenset(s for s in (secret, *more) if len(s) >= 8)
        with self._lock:
            if owner is None:
                self._fixed |= kept
            else:
                self._owned[owner] = kept
            self._rebuild()

    def hold(self, holder: object, secret: str, *more: str) -> None:
        """Secrets live as long as `holder` (a token pair replaced when it rotates)."""
        owner = f"held:{id(holder)}"
        self.add(secret, *more, owner=owner)
        weakref.finalize(holder, self.forget, owner)

    def forget(self, owner: str) -> None:
        with self._lock:
            self._owned.pop(owner, None)
            self._rebuild()

    def _rebuild(self) -> None:
        """Longest first, so a secret containing another is replaced whole."""
        live = self._fixed.union(*self._owned.values())
        self._sorted = sorted(live, key=len, reverse=True)

    def __len__(self) -> int:
        return len(self._sorted)

    def scrub(self, text: str) -> str:
        secrets = self._sorted
        for secret in secrets:
            text = text.replace(secret, "[REDACTED]")
        for pattern in _PATTERNS:
            text = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + "[REDACTED]", text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.scrub(record.getMessage())
        record.args = None
        if record.exc_info:
            record.exc_text = self.scrub(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        for key, value in list(record.__dict__.items()):
            if key not in _STANDARD and isinstance(value, str):
                setattr(record, key, self.scrub(value))
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": clock.rfc3339(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value
        if record.exc_text:
            out["exception"] = record.exc_text
        return orjson.dumps(out, default=str).decode()


class TextFormatter(logging.Formatter):
    """For humans: the message, then every field the JSON line has (source, log type,
    counts, error...) as `key=value`, so `poll done` says what was done, and where."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = [
            f"{key}={_text_value(value)}"
            for key, value in record.__dict__.items()
            if key not in _STANDARD and not key.startswith("_")
        ]
        return " ".join([line, *fields]) if fields else line


def _text_value(value: Any) -> str:
    text = value if isinstance(value, str) else orjson.dumps(value, default=str).decode()
    return orjson.dumps(text).decode() if not text or any(c in text for c in ' "=') else text


REDACTOR = Redactor()


def handler(stream: Any = None, fmt: str = "json") -> logging.Handler:
    """A handler that redacts before it formats: the only kind the connector installs."""
    out = logging.StreamHandler(stream or sys.stderr)
    out.addFilter(REDACTOR)
    out.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    out.set_name("slack-connector")
    return out


def _log_thread_exception(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit or args.exc_value is None:
        return
    exc_info = (args.exc_type, args.exc_value, args.exc_traceback)
    name = args.thread.name if args.thread else "?"
    logging.getLogger("connector").error(
        "uncaught exception in thread", exc_info=exc_info, extra={"thread_name": name}
    )


def _log_exception(exc_type: Any, exc_value: Any, tb: Any) -> None:
    logging.getLogger("connector").critical(
        "uncaught exception", exc_info=(exc_type, exc_value, tb)
    )


def setup(level: str = "INFO", fmt: str = "json") -> None:
    """Every line on stderr is a log line: Python warnings and exceptions that escape a
    thread or the main program go through the same redacting handler, not raw tracebacks."""
    root = logging.getLogger()
    root.handlers[:] = [h for h in root.handlers if h.get_name() != "slack-connector"]
    root.addHandler(handler(fmt=fmt))
    root.setLevel(level.upper())
    logging.captureWarnings(True)
    threading.excepthook = _log_thread_exception
    sys.excepthook = _log_exception
    for noisy in ("httpx", "httpcore", "botocore", "boto3", "urllib3", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
