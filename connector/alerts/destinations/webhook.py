"""A generic HTTP webhook: POSTs the alert as JSON, optionally with an Authorization header.

Also home of `post_json`, the one HTTP call every HTTP destination makes, so timeouts,
redirects and secret-free error messages are handled the same way everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, Literal

import httpx
import orjson
from pydantic import BaseModel

from connector.alerts.base import Alert, DeliveryError, Destination, DestinationOptions, register
from connector.secrets import SecretError, SecretRef
from connector.urls import require_https, secret_parts

USER_AGENT = "slack-security-connector"
_SNIPPET = 200


class WebhookOptions(DestinationOptions):
    type: Literal["webhook"]
    url: SecretRef
    authorization: SecretRef | None = None


@register
class Webhook(Destination):
    kind = "webhook"
    options_model: ClassVar[type[BaseModel]] = WebhookOptions

    def __init__(
        self, url: SecretRef, authorization: SecretRef | None = None, timeout: float = 10.0
    ) -> None:
        self._url = url
        self._authorization = authorization
        self._http = new_client(timeout)

    @classmethod
    def from_options(cls, options: BaseModel) -> Destination:
        opts = WebhookOptions.model_validate(options, from_attributes=True)
        return cls(opts.url, opts.authorization, opts.timeout_seconds)

    def send(self, alert: Alert) -> None:
        url = resolve(self.kind, self._url)
        headers: dict[str, str] = {}
        secrets = [url]
        if self._authorization is not None:
            headers["Authorization"] = resolve(self.kind, self._authorization)
            secrets.append(headers["Authorization"])
        post_json(self._http, self.kind, url, alert.as_dict(), headers=headers, secrets=secrets)

    def close(self) -> None:
        self._http.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(kind={self.kind!r})"


def new_client(timeout: float) -> httpx.Client:
    """One client per destination; redirects are not followed (a redirect is a failure)."""
    return httpx.Client(
        timeout=httpx.Timeout(timeout),
        follow_redirects=False,
        headers={"User-Agent": USER_AGENT},
    )


def resolve(kind: str, ref: SecretRef) -> str:
    """Read a secret now (so rotation is picked up); a failure is a `DeliveryError`."""
    try:
        return ref.resolve().get_secret_value()
    except SecretError as exc:
        raise DeliveryError(f"{kind}: {exc}") from None


def post_json(
    client: httpx.Client,
    kind: str,
    url: str,
    body: Any,
    *,
    headers: Mapping[str, str] | None = None,
    secrets: Iterable[str] = (),
) -> httpx.Response:
    """POST `body` as JSON; raise `DeliveryError` on a transport error or a non-2xx answer.

    Error messages name the destination kind and what went wrong, never the URL (httpx's
    own exception text includes it), any part of it, or any of `secrets`. A plain http URL
    to anything but a loopback host is refused before anything is sent.
    """
    try:
        require_https(url)
    except ValueError as exc:
        raise DeliveryError(f"{kind}: url {exc}") from None
    try:
        response = client.post(
            url,
            content=orjson.dumps(body),
            headers={"Content-Type": "application/json", **(headers or {})},
        )
    except httpx.TimeoutException as exc:
        raise DeliveryError(f"{kind}: timed out ({type(exc).__name__})") from None
    except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:
        raise DeliveryError(f"{kind}: request failed ({type(exc).__name__})") from None
    if not response.is_success:
        raise DeliveryError(
            f"{kind}: HTTP {response.status_code}{_snippet(response, [url, *secrets])}"
        )
    return response


def _snippet(response: httpx.Response, secrets: Iterable[str]) -> str:
    """The start of an error body (Slack says e.g. `no_service`), scrubbed of secrets."""
    from connector.logs import REDACTOR

    try:
        text = response.text[:4096]
    except (UnicodeDecodeError, LookupError):
        return ""
    every = {part for s in secrets if s for part in (s, *secret_parts(s))}
    for secret in sorted(every, key=len, reverse=True):
        text = text.replace(secret, "[REDACTED]")
    text = " ".join(REDACTOR.scrub(text).split())[:_SNIPPET]
    return f": {text}" if text else ""
