"""Static tokens are read once per poll, not per request; the log redactor keeps only the
secrets that are still live."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest
from pydantic import SecretStr

from connector.config.settings import SourceConfig
from connector.logs import REDACTOR
from tests import factories
from tests.conftest import SECRETS_SEEN, local_settings, once, source
from tests.fakes.slack_server import FakeSlack

OLD, NEW = "xoxp-file-token-old", "xoxp-file-token-new"


@pytest.fixture
def rotating_slack() -> FakeSlack:
    SECRETS_SEEN.update({OLD, NEW})
    with FakeSlack(tokens=(OLD, NEW)) as server:
        yield server


def test_a_static_token_is_read_once_per_poll_and_again_when_rejected(
    rotating_slack: FakeSlack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    slack = rotating_slack
    now = factories.now()
    slack.add_audit([factories.audit(i, now - 300 + i) for i in range(40)])
    token_file = tmp_path / "token"
    token_file.write_text(OLD)
    cfg = source(
        slack, log_types=["audit"], page_size=5, token_env=None, token_file=str(token_file)
    )
    settings = local_settings(tmp_path, cfg)
    reads: list[str] = []
    read = SourceConfig.read_token

    def counting(self: SourceConfig) -> SecretStr:
        token = read(self)
        reads.append(token.get_secret_value())
        return token

    monkeypatch.setattr(SourceConfig, "read_token", counting)

    (first,) = once(settings)
    assert first.ok and first.result.pages >= 8
    assert reads == [OLD], "one read for a poll of many pages"

    slack.add_audit([factories.audit(100 + i, now - 100 + i) for i in range(20)])
    token_file.write_text(NEW)
    slack.revoke(OLD)
    reads.clear()
    start = len(slack.requests)
    (second,) = once(settings)
    assert second.ok, second.detail
    assert reads == [NEW], "the next poll reads the rotated token"
    assert {r.headers["authorization"] for r in slack.requests[start:]} == {f"Bearer {NEW}"}


def test_rotating_a_static_token_keeps_one_live_secret(tmp_path: Path) -> None:
    from connector.credentials.provider import StaticToken

    token_file = tmp_path / "token"
    cfg = SourceConfig(id="rot", token_file=str(token_file))
    provider = StaticToken(cfg)
    before = len(REDACTOR)
    tokens = [f"xoxp-rotation-{n:04d}-abcdef" for n in range(50)]
    for token in tokens:
        token_file.write_text(token)
        provider.begin_poll()
        provider.current()
    assert len(REDACTOR) == before + 1
    assert REDACTOR.scrub(f"saw {tokens[-1]}") == "saw [REDACTED]"
    assert tokens[0] not in REDACTOR._sorted


def test_an_oauth_pair_is_redacted_while_it_lives() -> None:
    from connector.slack.tokenset import TokenSet

    gc.collect()
    before = len(REDACTOR)
    pair = TokenSet(SecretStr("opaque-access-0001"), SecretStr("opaque-refresh-0001"))
    assert len(REDACTOR) == before + 2
    assert REDACTOR.scrub("a opaque-access-0001 b") == "a [REDACTED] b"
    del pair
    gc.collect()
    assert len(REDACTOR) == before
