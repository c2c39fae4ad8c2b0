"""Amazon S3, or any S3-compatible store through `endpoint_url`.

A PutObject is atomic, which with deterministic keys gives exactly-once output. boto3's
own retries (standard mode, `max_attempts` attempts in all) absorb brief S3 errors; a
longer outage fails the write, the checkpoint stays, and the next poll writes the same
batch again. Timeouts and attempts come from the config, which holds them inside the
daemon's shutdown grace.

Two things are not taken on trust:

* **What the store kept.** Each upload's answer (its CRC32, or an ETag that is the MD5
  of a plain PutObject) is compared with the body sent; a store that kept something else
  (the `aws-chunked` framing some stores take for the body) fails the write, and the
  object is buried (below) so that no retry counts it as written. `probe` (for `check`)
  writes an object, reads it back and compares the bytes.
* **Who may still write.** With `conditional_writes` (the default) every upload is
  `If-None-Match: *`, and recovery (`settle`) puts a *tombstone* at the key of an
  interrupted write that never landed. A replica paused past its lease that wakes up and
  uploads after the new holder settled its intent then gets 412 from S3 itself, so its
  rows never land a second time. A tombstone is a valid, empty gzip file (a SIEM reads no
  rows from it) marked in its metadata; the lease holder writing the same rows later
  replaces it (`If-Match` its ETag) after checking it still holds the lease.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import os
import re
import uuid
import zlib
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from connector.config.settings import OutputConfig
from connector.sinks.base import Probe, Sink, SinkError, register

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

TOMBSTONE = "slack-connector-tombstone"
"""The user metadata key (`x-amz-meta-...`) that marks a tombstone."""
_MD5_ETAG = re.compile(r"[0-9a-f]{32}")
_PROBE_BYTES = 256 * 1024
_SETTLE_TRIES = 3


@register
class S3Sink(Sink):
    kind = "s3"

    def __init__(
        self,
        client: S3Client,
        bucket: str,
        kms_key_id: str | None = None,
        content_type: str = "application/x-ndjson",
        *,
        prefix: str = "",
        conditional: bool = True,
    ) -> None:
        self._s3 = client
        self.bucket = bucket
        self._kms = kms_key_id
        self.content_type = content_type
        self._prefix = prefix
        self.conditional = conditional

    @classmethod
    def from_config(cls, cfg: OutputConfig) -> Sink:
        assert cfg.bucket is not None
        client = boto3.client(
            "s3",
            region_name=cfg.region,
            endpoint_url=cfg.endpoint_url,
            verify=cfg.ca_file,
            config=Config(
                retries={"total_max_attempts": cfg.max_attempts, "mode": "standard"},
                connect_timeout=cfg.connect_timeout_seconds,
                read_timeout=cfg.read_timeout_seconds,
                request_checksum_calculation=cfg.checksums,
                response_checksum_validation=cfg.checksums,
            ),
        )
        return cls(
            client,
            cfg.bucket,
            cfg.kms_key_id,
            prefix=cfg.prefix,
            conditional=cfg.conditional_writes,
        )

    def put(self, key: str, body: bytes, check_lease: Callable[[], None] | None = None) -> None:
        if not self.conditional:
            self._verified(key, body, self._put(key, body))
            return
        try:
            answer = self._put(key, body, IfNoneMatch="*")
        except _Precondition:
            self._put_over(key, body, check_lease)
            return
        self._verified(key, body, answer)

    def _put_over(self, key: str, body: bytes, check_lease: Callable[[], None] | None) -> None:
        """The key exists: an earlier attempt of this write landed (the same key holds the
        same rows), or a tombstone stands there, which only a lease holder may replace."""
        head = self._head(key)
        if head is not None and not _is_tombstone(head):
            return
        if check_lease is None:
            raise SinkError(f"s3: s3://{self.bucket}/{key} was settled as never written")
        check_lease()
        try:
            if head is None:
                answer = self._put(key, body, IfNoneMatch="*")
            else:
                answer = self._put(key, body, IfMatch=str(head.get("ETag", "")))
        except _Precondition:
            raise SinkError(f"s3: s3://{self.bucket}/{key} changed while it was written") from None
        self._verified(key, body, answer)

    def _verified(self, key: str, body: bytes, answer: Mapping[str, Any]) -> None:
        """A store that kept other bytes than those sent fails the write, and what it
        kept is buried so that no later attempt takes it for this batch."""
        problem = self._mismatch(body, answer)
        if problem is None:
            return
        self._discard(key)
        raise SinkError(f"s3: s3://{self.bucket}/{key} was stored corrupted ({problem})")

    def _discard(self, key: str) -> None:
        """A tombstone in place of a corrupted object; where the store mangled that too,
        the object is deleted (which needs s3:DeleteObject)."""
        try:
            if self._bury(key, self._head(key)):
                return
        except (SinkError, _Precondition):
            pass
        self._delete(key)

    def _mismatch(self, body: bytes, answer: Mapping[str, Any]) -> str | None:
        crc = answer.get("ChecksumCRC32")
        if crc:
            sent = base64.b64encode(zlib.crc32(body).to_bytes(4, "big")).decode()
            return None if crc == sent else "CRC32 differs from the body sent"
        etag = str(answer.get("ETag", "")).strip('"')
        if self._kms or not _MD5_ETAG.fullmatch(etag):
            return None
        return None if etag == hashlib.md5(body).hexdigest() else "ETag differs from the body sent"  # noqa: S324 - S3's ETag

    def exists(self, key: str, size: int | None = None) -> bool:
        head = self._head(key)
        if head is None or _is_tombstone(head):
            return False
        return size is None or head.get("ContentLength") == size

    def settle(self, key: str, size: int | None) -> bool:
        """An object that landed whole counts; otherwise a tombstone takes its key, so an
        upload of it still on its way (a paused replica) gets 412 and lands nothing."""
        if not self.conditional:
            return self.exists(key, size)
        for _ in range(_SETTLE_TRIES):
            head = self._head(key)
            whole = head is not None and (size is None or head.get("ContentLength") == size)
            if head is not None and whole and not _is_tombstone(head):
                return True
            try:
                self._bury(key, head)
            except _Precondition:
                continue
            return False
        raise SinkError(f"s3: s3://{self.bucket}/{key} kept changing while it was settled")

    def _bury(self, key: str, head: Mapping[str, Any] | None) -> bool:
        """A fresh tombstone (its own ETag, so a replacement racing it fails) where
        nothing is, or in place of exactly what `head` saw; whether it was stored intact."""
        where = {"IfNoneMatch": "*"} if head is None else {"IfMatch": str(head.get("ETag", ""))}
        if not self.conditional:
            where = {}
        body = _tombstone()
        answer = self._put(key, body, Metadata={TOMBSTONE: "1"}, **where)
        return self._mismatch(body, answer) is None

    def _put(self, key: str, body: bytes, **kw: Any) -> Mapping[str, Any]:
        if self._kms:
            kw.update(ServerSideEncryption="aws:kms", SSEKMSKeyId=self._kms)
        try:
            answer: Mapping[str, Any] = self._s3.put_object(
                Bucket=self.bucket, Key=key, Body=body, ContentType=self.content_type, **kw
            )
        except ClientError as exc:
            if _status(exc) == 412:
                raise _Precondition(key) from None
            raise SinkError(f"s3: cannot write s3://{self.bucket}/{key}: {_reason(exc)}") from None
        except BotoCoreError as exc:
            raise SinkError(f"s3: cannot write s3://{self.bucket}/{key}: {_reason(exc)}") from None
        return answer

    def _head(self, key: str) -> Mapping[str, Any] | None:
        try:
            head: Mapping[str, Any] = self._s3.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise SinkError(f"s3: cannot check s3://{self.bucket}/{key}: {_reason(exc)}") from None
        except BotoCoreError as exc:
            raise SinkError(f"s3: cannot check s3://{self.bucket}/{key}: {_reason(exc)}") from None
        return head

    def get(self, key: str) -> bytes:
        try:
            return self._s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except (BotoCoreError, ClientError) as exc:
            raise SinkError(f"s3: cannot read s3://{self.bucket}/{key}: {_reason(exc)}") from None

    def delete(self, key: str) -> None:
        try:
            self._s3.delete_object(Bucket=self.bucket, Key=key)
        except (BotoCoreError, ClientError) as exc:
            raise SinkError(f"s3: cannot delete s3://{self.bucket}/{key}: {_reason(exc)}") from None

    def check(self) -> str:
        try:
            self._s3.head_bucket(Bucket=self.bucket)
        except (BotoCoreError, ClientError) as exc:
            raise SinkError(f"s3: bucket {self.bucket}: {_reason(exc)}") from None
        return f"ok, bucket {self.bucket} reachable"

    def probe(self) -> Probe:
        """Write an object, read it back, compare the bytes; then ask whether the store
        refuses a second `If-None-Match: *` upload of it (the fence replicas rely on)."""
        self.check()
        key = "/".join(p for p in (self._prefix, "_check", f"{uuid.uuid4().hex}.bin") if p)
        body = _probe_body()
        try:
            self._read_back(key, body)
            detail = f"ok, bucket {self.bucket}: {len(body)} bytes written and read back intact"
            if not self.conditional:
                return Probe(
                    f"{detail}; conditional writes off ([output] conditional_writes)", False
                )
            try:
                self._put(key, body, IfNoneMatch="*")
            except _Precondition:
                return Probe(f"{detail}; conditional writes enforced", True)
            except SinkError as exc:
                return Probe(f"{detail}; a conditional write failed: {exc}", False)
            return Probe(f"{detail}; the store ignores If-None-Match (conditional writes)", False)
        finally:
            self._delete(key)

    def _read_back(self, key: str, body: bytes) -> None:
        problem = self._mismatch(body, self._put(key, body))
        kept = self.get(key)
        if kept != body:
            problem = f"read back {len(kept)} bytes that differ from the {len(body)} written"
        if problem is not None:
            raise SinkError(
                f"s3: the store mangles uploads: s3://{self.bucket}/{key} {problem}; set "
                '[output] checksum = "when_required" (botocore\'s aws-chunked uploads)'
            )

    def _delete(self, key: str) -> None:
        try:
            self._s3.delete_object(Bucket=self.bucket, Key=key)
        except (BotoCoreError, ClientError):
            pass

    def close(self) -> None:
        self._s3.close()


class _Precondition(Exception):
    """S3 answered 412: the object's state was not what the conditional write required."""


def _is_tombstone(head: Mapping[str, Any]) -> bool:
    return TOMBSTONE in (head.get("Metadata") or {})


def _tombstone() -> bytes:
    """An empty gzip file, unique (its name field) so each has an ETag of its own."""
    buf = io.BytesIO()
    with gzip.GzipFile(filename=uuid.uuid4().hex, mode="wb", fileobj=buf, mtime=0):
        pass
    return buf.getvalue()


def _probe_body() -> bytes:
    return os.urandom(_PROBE_BYTES)


def _status(exc: ClientError) -> int | None:
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return int(status) if status is not None else None


def _reason(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        return f"{err.get('Code', '?')} {err.get('Message', '')}".strip()
    return type(exc).__name__
