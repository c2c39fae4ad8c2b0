"""DuckDB reading the output's S3 bucket: httpfs from the installed wheel (no download at
run time), credentials from boto3's standard chain handed over as a temporary secret that
never appears in an error."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

import duckdb

if TYPE_CHECKING:
    from connector.config.settings import OutputConfig


class S3SetupError(Exception):
    """DuckDB cannot read the bucket; safe to print."""


def configure(db: duckdb.DuckDBPyConnection, output: OutputConfig) -> None:
    """httpfs from the installed wheel (no download at run time), credentials from boto3."""
    import boto3

    try:
        _load_httpfs(db)
    except duckdb.Error:
        raise S3SetupError(
            "search over S3 needs DuckDB's httpfs extension: pip install duckdb-extension-httpfs"
        ) from None
    session = boto3.Session(region_name=output.region)
    creds = session.get_credentials()
    if creds is None:
        raise S3SetupError("output: no AWS credentials found in the standard chain")
    frozen = creds.get_frozen_credentials()
    options: dict[str, str] = {
        "TYPE": "s3",
        "KEY_ID": str(frozen.access_key),
        "SECRET": str(frozen.secret_key),
        "REGION": str(output.region or session.region_name or "us-east-1"),
    }
    if frozen.token:
        options["SESSION_TOKEN"] = frozen.token
    if output.endpoint_url:
        url = urlparse(output.endpoint_url)
        options.update(ENDPOINT=url.netloc, URL_STYLE="path")
        options["USE_SSL"] = "true" if url.scheme == "https" else "false"
    body = ", ".join(
        f"{k} {v}" if k in ("TYPE", "USE_SSL") else f"{k} '{v.replace(chr(39), chr(39) * 2)}'"
        for k, v in options.items()
    )
    try:
        db.execute(f"CREATE TEMPORARY SECRET connector_s3 ({body})")
    except duckdb.Error:
        raise S3SetupError("output: DuckDB refused the S3 settings") from None
    _trust(db, output.ca_file)


def _trust(db: duckdb.DuckDBPyConnection, ca_file: str | None) -> None:
    """The writer's CA (`[output] ca_bundle`, else `AWS_CA_BUNDLE`) for httpfs too, which
    reads neither by itself: a store behind a private CA is then read as it was written.
    Set for the whole (per-search, in-memory) database, so the cursors that read side by
    side (`search.parallel`) verify against it too: a session setting stays with the
    connection that made it."""
    if not ca_file:
        return
    if not Path(ca_file).is_file():
        raise S3SetupError(f"output.ca_bundle: {ca_file} is not a readable file")
    quoted = ca_file.replace("'", "''")
    try:
        db.execute(f"SET GLOBAL ca_cert_file = '{quoted}'")
        db.execute("SET GLOBAL enable_server_cert_verification = true")
    except duckdb.Error:
        raise S3SetupError("output: DuckDB refused the CA bundle") from None


def _load_httpfs(db: duckdb.DuckDBPyConnection) -> None:
    try:
        package = importlib.import_module("duckdb_extension_httpfs")
    except ImportError:
        db.execute("LOAD httpfs")
        return
    base = Path(package.__file__ or "").parent
    found = sorted(base.glob("extensions/*/httpfs.duckdb_extension"))
    if not found:
        db.execute("LOAD httpfs")
        return
    db.execute(f"LOAD '{found[-1]}'")
