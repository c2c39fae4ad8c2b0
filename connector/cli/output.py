"""The CLI's one printer: every line is scrubbed of every known secret, because
exception texts can carry one (a webhook URL, a token echoed by a server)."""

from __future__ import annotations

import sys
from typing import TextIO

from connector import logs


def say(text: str, file: TextIO | None = None) -> None:
    """Print one line at once, scrubbed of every known secret."""
    print(logs.REDACTOR.scrub(text), file=file or sys.stdout, flush=True)
