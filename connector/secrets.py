"""References to secrets (tokens, webhook URLs, routing keys) and how to read them.

A config file names where a secret lives, never the secret: an environment variable, a
file (Kubernetes/Docker secrets), AWS Secrets Manager or SSM Parameter Store. Secrets are
read when needed, so a rotated value is picked up without a restart, and they are held as
`SecretStr` and registered with the log redactor the moment they are read.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, SecretStr, model_validator

from connector.urls import secret_parts


class SecretError(Exception):
    """A secret could not be read. The message names the reference, never the value."""


class SecretRef(BaseModel):
    """Exactly one of `env`, `file`, `aws_secretsmanager` (ARN or name), `aws_ssm` (name)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    env: str | None = None
    file: str | None = None
    aws_secretsmanager: str | None = None
    aws_ssm: str | None = None
    region: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _a_reference(cls, value: Any) -> Any:
        """A secret written inline (`token = "xoxp-…"`) is refused with the fix, and
        without repeating it."""
        if isinstance(value, str):
            raise ValueError(
                "a secret is never written in the config file; refer to where it is kept: "
                '{ env = "VAR" }, { file = "/path" }, { aws_secretsmanager = "name" } or '
                '{ aws_ssm = "/name" } (a source\'s token also takes token_env = "VAR" or '
                'token_file = "/path")'
            )
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> SecretRef:
        given = [k for k in ("env", "file", "aws_secretsmanager", "aws_ssm") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError("set exactly one of env, file, aws_secretsmanager, aws_ssm")
        return self

    def describe(self) -> str:
        for kind in ("env", "file", "aws_secretsmanager", "aws_ssm"):
            value = getattr(self, kind)
            if value:
                return f"{kind} {value}"
        return "?"

    def resolve(self) -> SecretStr:
        value = _READERS[self._kind()](self)
        value = value.strip()
        if not value:
            raise SecretError(f"secret from {self.describe()} is empty")
        from connector.logs import REDACTOR

        REDACTOR.add(value, *secret_parts(value), owner=f"ref:{self.describe()}")
        return SecretStr(value)

    def _kind(self) -> str:
        return next(k for k in ("env", "file", "aws_secretsmanager", "aws_ssm") if getattr(self, k))


def _env(ref: SecretRef) -> str:
    assert ref.env is not None
    value = os.environ.get(ref.env)
    if value is None:
        raise SecretError(f"environment variable {ref.env} is not set")
    return value


def _file(ref: SecretRef) -> str:
    assert ref.file is not None
    try:
        return Path(ref.file).read_text(encoding="utf-8")
    except OSError as exc:
        raise SecretError(f"cannot read {ref.file} ({exc.strerror})") from None


def _aws(service: str, ref: SecretRef) -> Any:
    import boto3

    return boto3.client(service, region_name=ref.region)  # type: ignore[call-overload]


def _secretsmanager(ref: SecretRef) -> str:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        got = _aws("secretsmanager", ref).get_secret_value(SecretId=ref.aws_secretsmanager)
    except (BotoCoreError, ClientError) as exc:
        name = ref.aws_secretsmanager
        raise SecretError(f"Secrets Manager {name}: {type(exc).__name__}") from None
    return str(got.get("SecretString") or "")


def _ssm(ref: SecretRef) -> str:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        got = _aws("ssm", ref).get_parameter(Name=ref.aws_ssm, WithDecryption=True)
    except (BotoCoreError, ClientError) as exc:
        raise SecretError(f"SSM parameter {ref.aws_ssm}: {type(exc).__name__}") from None
    return str(got["Parameter"]["Value"])


_READERS = {"env": _env, "file": _file, "aws_secretsmanager": _secretsmanager, "aws_ssm": _ssm}
