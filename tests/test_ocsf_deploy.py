"""The OCSF output's deployment files against the code: `deploy/athena/ocsf.sql` is exactly
the table per class the Parquet schema (`connector/ocsf/parquet.py`) gives, with Security
Lake's partitions, and `deploy/iam/security-lake-policy.json` grants the lake bucket what
the OCSF output calls (PutObject, GetObject for HeadObject, ListBucket for a true 404)
under the custom sources' `ext/` prefixes (ListBucket on the bucket, as in policy.json). Regenerate the DDL with
`python -m tests.test_ocsf_deploy > deploy/athena/ocsf.sql`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa

from connector.config.ocsf import DEFAULT_SOURCE_NAMES
from connector.ocsf.parquet import COLUMNS, schema

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
HEADER = """\
-- Athena (Glue) tables over the OCSF output, one per OCSF class and custom source, for a
-- lake where Security Lake does not create them itself (it does for its custom sources).
-- Generated from connector/ocsf/parquet.py by `python -m tests.test_ocsf_deploy`; the test
-- of the same name fails when the two differ.
--
-- Replace LAKE_BUCKET (the [ocsf] bucket, with its prefix if one is set), REGION and
-- ACCOUNT_ID ([ocsf] region and account_id). The source names are the defaults of
-- [ocsf] source_names. Partition projection reads eventDay from the key, so there is no
-- crawler or MSCK REPAIR to run; filter on eventDay (yyyyMMdd) to bound the scan.
"""


def hive(t: pa.DataType) -> str:
    if pa.types.is_struct(t):
        fields = ",".join(f"`{f.name}`:{hive(f.type)}" for f in t)
        return f"struct<{fields}>"
    if pa.types.is_map(t):
        return f"map<{hive(t.key_type)},{hive(t.item_type)}>"
    if pa.types.is_list(t):
        return f"array<{hive(t.value_type)}>"
    return {pa.int32(): "int", pa.int64(): "bigint", pa.string(): "string"}[t]


def ddl() -> str:
    out = [HEADER]
    for cls in COLUMNS:
        source = DEFAULT_SOURCE_NAMES[cls]
        columns = ",\n".join(f"  `{f.name}` {hive(f.type)}" for f in schema(cls))
        where = f"s3://LAKE_BUCKET/ext/{source}/region=REGION/accountId=ACCOUNT_ID/"
        out.append(
            f"CREATE EXTERNAL TABLE IF NOT EXISTS `slack_ocsf_{cls}` (\n{columns}\n)\n"
            "PARTITIONED BY (`eventDay` string)\n"
            "STORED AS PARQUET\n"
            f"LOCATION '{where}'\n"
            "TBLPROPERTIES (\n"
            "  'projection.enabled' = 'true',\n"
            "  'projection.eventDay.type' = 'date',\n"
            "  'projection.eventDay.format' = 'yyyyMMdd',\n"
            "  'projection.eventDay.range' = '20200101,NOW',\n"
            "  'projection.eventDay.interval' = '1',\n"
            "  'projection.eventDay.interval.unit' = 'DAYS',\n"
            f"  'storage.location.template' = '{where}eventDay=${{eventDay}}/'\n"
            ");\n"
        )
    return "\n".join(out)


def test_the_athena_ddl_is_the_parquet_schema() -> None:
    assert (DEPLOY / "athena" / "ocsf.sql").read_text() == ddl()


def test_the_lake_policy_grants_what_the_ocsf_output_calls_and_no_more() -> None:
    policy: dict[str, Any] = json.loads((DEPLOY / "iam" / "security-lake-policy.json").read_text())
    statements = {s["Sid"]: s for s in policy["Statement"]}
    write = statements["WriteAndCheckOcsfObjects"]
    assert sorted(write["Action"]) == ["s3:GetObject", "s3:PutObject"]
    assert write["Resource"] == [
        f"arn:aws:s3:::LAKE_BUCKET/ext/{name}/*" for name in DEFAULT_SOURCE_NAMES.values()
    ]
    listing = statements["HeadObjectTrueNotFoundInTheLakeBucket"]
    assert listing["Action"] == "s3:ListBucket"
    assert listing["Resource"] == "arn:aws:s3:::LAKE_BUCKET"
    assert "Condition" not in listing  # HeadObject sends no prefix: a condition denies it
    assert all(s["Effect"] == "Allow" for s in policy["Statement"])


if __name__ == "__main__":
    print(ddl(), end="")
