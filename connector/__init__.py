"""Slack security-log connector: audit, access and integration logs to S3 as gzip NDJSON."""

__version__ = "0.1.0"
