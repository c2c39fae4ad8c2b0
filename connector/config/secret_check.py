"""Secret references in the settings, each read once so a missing one is found at start-up.

`secret_readers` walks the settings for every `SecretRef` (an alert destination's `url` must
also be an https URL) and every source token given by `token_env` or `token_file`;
`secret_problems` reads each and says what is wrong, in config order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from pydantic import BaseModel

from connector.config.errors import ConfigError
from connector.config.settings import Settings, SourceConfig
from connector.secrets import SecretError, SecretRef
from connector.urls import require_https


def secret_problems(settings: Settings) -> Iterator[tuple[str, str]]:
    """(field, problem) for every secret reference that cannot be read now, in config order."""
    for where, read in secret_readers(settings):
        try:
            read()
        except (SecretError, ConfigError, ValueError) as exc:
            yield where, str(exc).removeprefix(f"{where}: ")


def secret_readers(model: BaseModel, where: str = "") -> Iterator[tuple[str, Callable[[], object]]]:
    """Every secret the settings refer to, as (field, a function that reads it)."""
    for name in type(model).model_fields:
        value = getattr(model, name)
        here = f"{where}.{name}" if where else name
        items = enumerate(value) if isinstance(value, list) else [(None, value)]
        for i, item in items:
            at = here if i is None else f"{here}[{i}]"
            if isinstance(item, SecretRef):
                yield at, _url_reader(item) if name == "url" else item.resolve
            elif isinstance(item, SourceConfig) and (item.token_env or item.token_file):
                field = "token_env" if item.token_env else "token_file"
                yield f"{at}.{field}", _token_reader(item)
                yield from secret_readers(item, at)
            elif isinstance(item, BaseModel):
                yield from secret_readers(item, at)


def _url_reader(ref: SecretRef) -> Callable[[], object]:
    return lambda: require_https(ref.resolve().get_secret_value())


def _token_reader(source: SourceConfig) -> Callable[[], object]:
    def read() -> object:
        try:
            return source.read_token()
        except ConfigError as exc:
            raise ConfigError(str(exc).split(": ", 2)[-1]) from None

    return read
