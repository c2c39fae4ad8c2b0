"""Shared fixtures: a fake Slack on 127.0.0.1, a real S3 API (moto server), config builders."""

from __future__ import annotations

import gzip
import logging
import os
import sys
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import orjson
import pytest
from hypothesis import settings as hypothesis_settings

from connector.config.load import parse
from connector.config.settings import Settings
from connector.search.index import INDEX
from tests.fakes import moto_server
from tests.fakes.slack_server import FakeSlack

TOKEN = "xoxp-test-token"
TOKEN_ENV = "SLACK_TEST_TOKEN"
CONFORMANCE = Path(__file__).resolve().parent / "conformance" / "slack"
"""Public Slack log samples (see its SOURCES.md), kept in the repository so a fresh clone runs
every test."""

hypothesis_settings.register_profile("deterministic", derandomize=True, database=None)
hypothesis_settings.register_profile("explore", derandomize=False)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "deterministic"))
"""Every run of `python -m pytest` (and CI) draws the same examples: a fresh clone passes or
fails the same way every time, and no example database carries one clone's finds into the
next. Exploring with true randomness is a separate command (README, "Exploring"):
`python -m pytest --hypothesis-profile=explore tests/...`; every counterexample it finds is
kept as an `@example` on its property."""


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """A real S3 API over HTTP on 127.0.0.1 (moto's server mode), one per test session;
    its DynamoDB serves one request at a time (`tests.fakes.moto_server`)."""
    os.environ.update(moto_server.AWS_ENV)
    os.environ.pop("AWS_PROFILE", None)
    with moto_server.moto_endpoint() as endpoint:
        yield endpoint


@pytest.fixture
def s3_bucket(moto_endpoint: str) -> tuple[Any, str]:
    client = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    bucket = f"test-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket)
    return client, bucket


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack(tokens=(TOKEN,)) as server:
        yield server


@pytest.fixture(autouse=True)
def _token_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)


@pytest.fixture(autouse=True)
def _logging_as_it_was() -> Iterator[None]:
    """No log handler outlives its test. `main()` installs the connector's stderr handler
    (`logs.setup`) on whatever `sys.stderr` is during the test, pytest's capture stream,
    which is closed afterwards; left on the root logger it turns every later log line into
    a `Logging error` block. The root's handlers and level, and the hooks `logs.setup`
    installs, are put back as they were."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    hooks = threading.excepthook, sys.excepthook
    warnings_captured = logging._warnings_showwarning is not None  # type: ignore[attr-defined]
    yield
    for added in [h for h in root.handlers if h not in handlers]:
        root.removeHandler(added)
    root.setLevel(level)
    threading.excepthook, sys.excepthook = hooks
    if not warnings_captured and logging._warnings_showwarning is not None:  # type: ignore[attr-defined]
        logging.captureWarnings(False)


def source(slack: FakeSlack, id: str = "acme", **overrides: Any) -> dict[str, Any]:
    """A source pointed at the fake Slack, tuned for fast tests (tiny backoff, no throttle)."""
    cfg: dict[str, Any] = {
        "id": id,
        "label": f"{id} org",
        "token_env": TOKEN_ENV,
        "audit_api_url": slack.audit_api_url,
        "web_api_url": slack.web_api_url,
        "retry_attempts": 3,
        "retry_backoff_seconds": 0.01,
        "audit_calls_per_minute": 100_000,
        "web_calls_per_minute": 100_000,
        "http_timeout_seconds": 5,
    }
    cfg.update(overrides)
    return cfg


def once(settings: Settings, sink: Any = None) -> list[Any]:
    """One `App.once()` with a fresh App, closed afterwards, as `slack-connector once` does
    (`sink` replaces the configured output)."""
    from connector.service.app import App

    app = App(settings, sink=sink)
    try:
        return app.once()
    finally:
        app.close()


def local_settings(tmp_path: Path, *sources: dict[str, Any], **output: Any) -> Settings:
    return parse(
        {
            "state": {"path": str(tmp_path / "state.db")},
            "output": {"type": "local", "path": str(tmp_path / "out"), **output},
            "sources": list(sources),
        }
    )


def read_local(root: Path, folder: str = "") -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for path in sorted((root / folder).rglob("*.json.gz")) if (root / folder).exists() else []:
        rows.extend(orjson.loads(line) for line in gzip.decompress(path.read_bytes()).splitlines())
    return rows


def read_s3(client: Any, bucket: str, prefix: str = "") -> dict[str, list[dict[str, Any]]]:
    """Every data and quarantine object under a prefix, key -> decoded rows; the search
    index beside them (Parquet under `_index/`, on by default) is not data."""
    out: dict[str, list[dict[str, Any]]] = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            if f"/{INDEX}/" in f"/{item['Key']}":
                continue
            body = client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
            out[item["Key"]] = [orjson.loads(x) for x in gzip.decompress(body).splitlines()]
    return out


def ndjson(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


SECRETS_SEEN: set[str] = {TOKEN}
"""Every secret a test hands the connector; test_zz_no_secrets_in_logs greps for them."""


@pytest.fixture(scope="session", autouse=True)
def all_log_lines(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Every log line the suite produces, through the connector's own redacting handler."""
    from connector import logs

    path = tmp_path_factory.mktemp("logs") / "suite.jsonl"
    stream = path.open("a", encoding="utf-8")
    handler = logs.handler(stream)
    handler.set_name("suite-capture")
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    for noisy in ("httpx", "httpcore", "botocore", "boto3", "urllib3", "apscheduler", "werkzeug"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    os.environ["SLACK_CONNECTOR_SUITE_LOG"] = str(path)
    yield path
    root.removeHandler(handler)
    stream.close()


def dynamodb_options(endpoint: str, **overrides: Any) -> Any:
    """`[state] type = "dynamodb"` on a fresh table in the moto server, created as
    `slack-connector state init` does."""
    from connector.state import DynamoDBOptions

    options = DynamoDBOptions.model_validate(
        {
            "type": "dynamodb",
            "table": f"state-{uuid.uuid4().hex[:12]}",
            "region": "us-east-1",
            "endpoint_url": endpoint,
            "max_attempts": 2,
            **overrides,
        }
    )
    options.init()
    return options


@contextmanager
def alert_hook(monkeypatch: pytest.MonkeyPatch, env: str, path: str) -> Iterator[Any]:
    """A webhook receiver for `[[alerts.destinations]] url = { env = env }`, its URL a
    secret no log line may hold."""
    from tests.fakes.webhook_receiver import WebhookReceiver

    with WebhookReceiver() as receiver:
        monkeypatch.setenv(env, receiver.url(path))
        SECRETS_SEEN.add(receiver.url(path))
        yield receiver
