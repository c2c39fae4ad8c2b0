"""Runs last (file name): greps every log line the suite produced for the secrets it used."""

from __future__ import annotations

import logging
from pathlib import Path

from connector.logs import REDACTOR
from tests.conftest import SECRETS_SEEN


def flush_capture() -> None:
    for handler in logging.getLogger().handlers:
        if handler.get_name() == "suite-capture":
            handler.flush()


def test_redactor_scrubs_registered_and_token_shaped_secrets() -> None:
    REDACTOR.add("correct-horse-battery-staple")
    text = REDACTOR.scrub(
        "boom correct-horse-battery-staple xoxb-123-456-abc https://hooks.slack.com/services/T/B/X "
        "Authorization: Bearer abc.def"
    )
    assert text == "boom [REDACTED] [REDACTED] [REDACTED] Authorization: Bearer [REDACTED]"


def test_exception_text_is_redacted(all_log_lines: Path) -> None:
    try:
        raise RuntimeError("token xoxp-test-token rejected")
    except RuntimeError:
        logging.getLogger("connector.test").exception("failure with a secret inside")
    flush_capture()
    [line] = [x for x in all_log_lines.read_text().splitlines() if "secret inside" in x]
    assert "RuntimeError: token [REDACTED] rejected" in line and "xoxp-test-token" not in line


def test_no_secret_in_any_log_line_of_the_suite(all_log_lines: Path) -> None:
    flush_capture()
    lines = all_log_lines.read_text().splitlines()
    assert len(lines) > 10, "the suite should have logged plenty"
    hits = [(secret, line) for line in lines for secret in SECRETS_SEEN if secret in line]
    assert not hits, hits[:3]
