"""The OCSF output under the chaos run: its `[ocsf]` table (the lake in the same bucket,
through the same killing S3 proxy, so a kill can fall between a raw object and its OCSF
objects or between two OCSF objects), and its tally: every raw row that landed has
exactly one OCSF event in the lake (by `metadata.uid`: the audit id, or the row id for
access and integration), none twice, none that no raw row has.
"""

from __future__ import annotations

import io
from collections import Counter
from typing import Any

import pyarrow.parquet as pq

LAKE_PREFIX = "lake"


def ocsf_section(bucket: str, endpoint: str) -> str:
    return f"""
[ocsf]
enabled = true
bucket = "{bucket}"
endpoint_url = "{endpoint}"
region = "us-east-1"
account_id = "123456789012"
prefix = "{LAKE_PREFIX}"
"""


def lake_uids(client: Any, bucket: str) -> Counter[str]:
    uids: Counter[str] = Counter()
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=LAKE_PREFIX)
    for page in pages:
        for item in page.get("Contents", []):
            body = client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
            table = pq.read_table(io.BytesIO(body), columns=["metadata"])
            uids.update(m["uid"] for m in table.column("metadata").to_pylist())
    return uids


def raw_uids(objects: dict[str, list[dict[str, Any]]], quarantine: str) -> Counter[str]:
    uids: Counter[str] = Counter()
    for key, rows in objects.items():
        if not key.startswith(quarantine):
            uids.update(
                str(r["id"] if r["p_log_type"] == "Slack.AuditLogs" else r["p_row_id"])
                for r in rows
            )
    return uids


def tally_lake(
    client: Any, bucket: str, objects: dict[str, list[dict[str, Any]]], quarantine: str
) -> dict[str, int]:
    """expected (distinct raw rows), landed, missing, duplicated, unexpected."""
    raw, lake = raw_uids(objects, quarantine), lake_uids(client, bucket)
    return {
        "expected": len(raw),
        "landed": sum(lake.values()),
        "missing": len(raw.keys() - lake.keys()),
        "duplicated": sum(n - 1 for n in lake.values() if n > 1),
        "unexpected": len(lake.keys() - raw.keys()),
    }
