"""The fence S3 itself enforces on late uploads (moto's server mode, which enforces
`If-None-Match` and `If-Match` on PutObject as S3 does).

A replica paused after its last lease check uploads when it wakes. If the new holder
settled that object's intent as never written meanwhile, `settle` left a tombstone at its
key, and the late conditional upload gets 412: nothing lands twice. The lease holder that
writes the same rows later (the same key) replaces the tombstone, after a lease check.
"""

from __future__ import annotations

import gzip
from typing import Any

import pytest

from connector.config.settings import OutputConfig
from connector.sinks.base import SinkError
from connector.sinks.s3 import TOMBSTONE, S3Sink
from connector.state import LeaseLost

KEY = "slack/Slack.AuditLogs/year=2026/month=12/day=7/hour=4/acme_x_abc.json.gz"
BODY = gzip.compress(b'{"id": "a"}\n{"id": "b"}\n')


def sink(endpoint: str, bucket: str, **output: Any) -> S3Sink:
    cfg = OutputConfig(type="s3", bucket=bucket, endpoint_url=endpoint, **output)
    built = S3Sink.from_config(cfg)
    assert isinstance(built, S3Sink)
    return built


def lost() -> None:
    raise LeaseLost("lease on source 'acme' log type 'audit' lost")


def held() -> None:
    return None


def test_a_late_upload_of_a_settled_object_is_refused_by_s3(
    moto_endpoint: str, s3_bucket: tuple[Any, str]
) -> None:
    client, bucket = s3_bucket
    late, holder = sink(moto_endpoint, bucket), sink(moto_endpoint, bucket)
    assert holder.settle(KEY, len(BODY)) is False
    head = client.head_object(Bucket=bucket, Key=KEY)
    assert TOMBSTONE in head["Metadata"]
    with pytest.raises(LeaseLost):
        late.put(KEY, BODY, lost)
    with pytest.raises(SinkError, match="settled as never written"):
        late.put(KEY, BODY)
    stored = client.get_object(Bucket=bucket, Key=KEY)["Body"].read()
    assert gzip.decompress(stored) == b"", "a tombstone reads as no rows"
    assert not holder.exists(KEY) and not holder.exists(KEY, len(BODY))


def test_the_lease_holder_replaces_a_tombstone_with_the_same_rows(
    moto_endpoint: str, s3_bucket: tuple[Any, str]
) -> None:
    client, bucket = s3_bucket
    store = sink(moto_endpoint, bucket)
    assert store.settle(KEY, len(BODY)) is False
    assert store.settle(KEY, len(BODY)) is False, "settling twice buries again"
    store.put(KEY, BODY, held)
    assert client.get_object(Bucket=bucket, Key=KEY)["Body"].read() == BODY
    assert store.exists(KEY, len(BODY))
    assert store.settle(KEY, len(BODY)) is True


def test_an_upload_that_landed_before_the_settle_counts_and_is_kept(
    moto_endpoint: str, s3_bucket: tuple[Any, str]
) -> None:
    client, bucket = s3_bucket
    first, holder = sink(moto_endpoint, bucket), sink(moto_endpoint, bucket)
    first.put(KEY, BODY, lost)
    assert holder.settle(KEY, len(BODY)) is True
    assert client.get_object(Bucket=bucket, Key=KEY)["Body"].read() == BODY
    first.put(KEY, BODY, lost)  # a retry of a write that landed: idempotent, no lease asked


def test_a_partial_object_is_buried_not_counted(
    moto_endpoint: str, s3_bucket: tuple[Any, str]
) -> None:
    client, bucket = s3_bucket
    client.put_object(Bucket=bucket, Key=KEY, Body=BODY[:10])
    assert sink(moto_endpoint, bucket).settle(KEY, len(BODY)) is False
    assert TOMBSTONE in client.head_object(Bucket=bucket, Key=KEY)["Metadata"]


def test_without_conditional_writes_the_late_upload_lands(
    moto_endpoint: str, s3_bucket: tuple[Any, str]
) -> None:
    """What the fence prevents: the same sequence, the fence turned off."""
    client, bucket = s3_bucket
    late = sink(moto_endpoint, bucket, conditional_writes=False)
    assert late.settle(KEY, len(BODY)) is False
    late.put(KEY, BODY, lost)
    assert client.get_object(Bucket=bucket, Key=KEY)["Body"].read() == BODY


def test_check_finds_that_moto_enforces_conditional_writes(
    moto_endpoint: str, s3_bucket: tuple[Any, str]
) -> None:
    client, bucket = s3_bucket
    probe = sink(moto_endpoint, bucket).probe()
    assert probe.fences, probe.detail
    assert "conditional writes enforced" in probe.detail
    assert client.list_objects_v2(Bucket=bucket).get("KeyCount") == 0, "the probe is removed"
    off = sink(moto_endpoint, bucket, conditional_writes=False).probe()
    assert not off.fences and "conditional_writes" in off.detail
