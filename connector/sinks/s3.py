"""Amazon S3, or any S3-compatible store through `endpoint_url`.

A PutObject is atomic and overwriting the same key with the same batch is harmless, which
is what makes deterministic keys give exactly-once output. boto3's own retries (standard
mode) absorb brief S3 errors; a longer outage fails the write, the checkpoint stays, and
the next poll writes the same batch again. Timeouts and attempts come from the config,
which holds them inside the daemon's shutdown grace.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from connector.config.settings import OutputConfig
from connector.sinks.base import Sink, SinkError, register

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


@register
class S3Sink(Sink):
    kind = "s3"

    def __init__(
        self,
        client: S3Client,
        bucket: str,
        kms_key_id: str | None = None,
        content_type: str = "application/x-ndjson",
    ) -> None:
        self._s3 = client
        self.bucket = bucket
        self._kms = kms_key_id
        self.content_type = content_type

    @classmethod
    def from_config(cls, cfg: OutputConfig) -> Sink:
        assert cfg.bucket is not None
        client = boto3.client(
            "s3",
            region_name=cfg.region,
            endpoint_url=cfg.endpoint_url,
            config=Config(
                retries={"max_attempts": cfg.max_attempts, "mode": "standard"},
                connect_timeout=cfg.connect_timeout_seconds,
                read_timeout=cfg.read_timeout_seconds,
            ),
        )
        return cls(client, cfg.bucket, cfg.kms_key_id)

    def put(self, key: str, body: bytes) -> None:
        extra: dict[str, Any] = {}
        if self._kms:
            extra = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": self._kms}
        try:
            self._s3.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=body,
                ContentType=self.content_type,
                **extra,
            )
        except (BotoCoreError, ClientError) as exc:
            raise SinkError(f"s3: cannot write s3://{self.bucket}/{key}: {_reason(exc)}") from None

    def exists(self, key: str, size: int | None = None) -> bool:
        try:
            head = self._s3.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise SinkError(f"s3: cannot check s3://{self.bucket}/{key}: {_reason(exc)}") from None
        except BotoCoreError as exc:
            raise SinkError(f"s3: cannot check s3://{self.bucket}/{key}: {_reason(exc)}") from None
        return size is None or head.get("ContentLength") == size

    def get(self, key: str) -> bytes:
        try:
            return self._s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except (BotoCoreError, ClientError) as exc:
            raise SinkError(f"s3: cannot read s3://{self.bucket}/{key}: {_reason(exc)}") from None

    def check(self) -> str:
        try:
            self._s3.head_bucket(Bucket=self.bucket)
        except (BotoCoreError, ClientError) as exc:
            raise SinkError(f"s3: bucket {self.bucket}: {_reason(exc)}") from None
        return f"ok, bucket {self.bucket} reachable"

    def close(self) -> None:
        self._s3.close()


def _reason(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        return f"{err.get('Code', '?')} {err.get('Message', '')}".strip()
    return type(exc).__name__
