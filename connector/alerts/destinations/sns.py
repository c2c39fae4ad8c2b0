"""Amazon SNS (or anything SNS-compatible through `endpoint_url`).

The message is the alert as JSON; `status`, `rule`, `source_id` and `log_type` are also
message attributes so subscriptions can filter (e.g. only triggers to an SMS topic).
"""

from __future__ import annotations

import re
from typing import Any, ClassVar, Literal

import orjson
from pydantic import BaseModel, Field

from connector.alerts.base import Alert, DeliveryError, Destination, DestinationOptions, register

_SUBJECT_MAX = 100
_NOT_PRINTABLE = re.compile(r"[^\x20-\x7e]+")


class SnsOptions(DestinationOptions):
    type: Literal["sns"]
    topic_arn: str = Field(pattern=r"^arn:[\w-]+:sns:[\w-]*:\d*:[\w.-]+$")
    region: str | None = None
    endpoint_url: str | None = None


@register
class Sns(Destination):
    kind = "sns"
    options_model: ClassVar[type[BaseModel]] = SnsOptions

    def __init__(self, client: Any, topic_arn: str) -> None:
        self._sns = client
        self.topic_arn = topic_arn

    @classmethod
    def from_options(cls, options: BaseModel) -> Destination:
        opts = SnsOptions.model_validate(options, from_attributes=True)
        # The topic's own region unless told otherwise, so no AWS_REGION is needed.
        region = opts.region or opts.topic_arn.split(":")[3] or None
        import boto3  # imported when used: config (and search) load this module
        from botocore.config import Config

        client = boto3.session.Session().client(
            "sns",
            region_name=region,
            endpoint_url=opts.endpoint_url,
            config=Config(
                # The dispatcher retries; one boto attempt keeps its backoff in charge.
                retries={"max_attempts": 1, "mode": "standard"},
                connect_timeout=opts.timeout_seconds,
                read_timeout=opts.timeout_seconds,
            ),
        )
        return cls(client, opts.topic_arn)

    def send(self, alert: Alert) -> None:
        attributes = {
            name: {"DataType": "String", "StringValue": value}
            for name, value in (
                ("status", alert.status),
                ("rule", alert.rule),
                ("source_id", alert.source_id),
                ("log_type", alert.log_type),
            )
            if value
        }
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self._sns.publish(
                TopicArn=self.topic_arn,
                Subject=subject(alert),
                Message=orjson.dumps(alert.as_dict()).decode(),
                MessageAttributes=attributes,
            )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "?")
            raise DeliveryError(f"sns: publish to {self.topic_arn}: {code}") from None
        except BotoCoreError as exc:
            raise DeliveryError(f"sns: publish to {self.topic_arn}: {type(exc).__name__}") from None

    def close(self) -> None:
        self._sns.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(kind={self.kind!r})"


def subject(alert: Alert) -> str:
    """SNS subjects: at most 100 printable ASCII characters, no line breaks."""
    text = f"[{alert.status.upper()}] {alert.summary}"
    text = " ".join(_NOT_PRINTABLE.sub(" ", text).split())
    if len(text) > _SUBJECT_MAX:
        text = text[: _SUBJECT_MAX - 3].rstrip() + "..."
    return text or "Slack connector alert"
