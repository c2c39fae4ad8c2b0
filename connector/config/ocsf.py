"""`[ocsf]`: the OCSF output beside the raw NDJSON (`connector.ocsf`), off by default.

Amazon Security Lake takes one OCSF class per custom source, so each class the mapper
uses writes under its own custom source name (`source_names`, from the OCSF class name;
the defaults below are what the README's set-up creates).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, model_validator

from connector.config.sections import Strict

DEFAULT_SOURCE_NAMES = {
    "authentication": "slack-authentication",
    "account_change": "slack-account-change",
    "entity_management": "slack-entity-management",
    "user_access": "slack-user-access",
    "group_management": "slack-group-management",
    "file_hosting": "slack-file-hosting",
    "detection_finding": "slack-detection-finding",
    "base_event": "slack-base-event",
}
_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


class OcsfConfig(Strict):
    enabled: bool = False
    version: Literal["1.1.0"] = "1.1.0"
    output: Literal["s3", "local"] = "s3"
    path: str = "./ocsf"
    bucket: str | None = None
    prefix: str = ""
    region: str = Field(default="us-east-1", pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")
    account_id: str = Field(default="000000000000", pattern=r"^\d{12}$")
    endpoint_url: str | None = None
    source_names: dict[str, str] = Field(default_factory=dict)
    max_attempts: int = Field(default=3, ge=1)
    connect_timeout_seconds: float = Field(default=3.0, gt=0)
    read_timeout_seconds: float = Field(default=12.0, gt=0)
    mapper: Literal["native", "python"] = "native"
    """Which mapper turns rows into OCSF columns: "native" (the C extension, for the lines
    it maps exactly; every other line goes to the Python mapper, which defines the events)
    or "python" (the Python mapper alone). "native" without the extension built is the
    Python mapper, with one warning. Both write the same bytes."""

    @model_validator(mode="after")
    def _complete(self) -> OcsfConfig:
        unknown = sorted(self.source_names.keys() - DEFAULT_SOURCE_NAMES.keys())
        if unknown:
            raise ValueError(
                f"source_names: {unknown} are not OCSF classes the mapper writes "
                f"(one of {sorted(DEFAULT_SOURCE_NAMES)})"
            )
        bad = sorted(v for v in self.source_names.values() if not _NAME.fullmatch(v))
        if bad:
            raise ValueError(
                f"source_names: {bad} are not custom source names ([A-Za-z0-9_-], 1-64)"
            )
        if self.enabled and self.output == "s3" and not self.bucket:
            raise ValueError("bucket: required when output is s3 (the Security Lake bucket)")
        if self.enabled and self.account_id == "000000000000":
            raise ValueError("account_id: required when enabled (the AWS account of the lake)")
        return self

    def source_name(self, cls: str) -> str:
        return self.source_names.get(cls, DEFAULT_SOURCE_NAMES[cls])
