"""A real sink wrapped so the process "dies" at one chosen call: the n-th put (after the
object is stored, or before) or the n-th existence check. Shared by the derived-output,
OCSF and in-process crash tests."""

from __future__ import annotations

from collections.abc import Callable

from connector.config.settings import OutputConfig
from connector.sinks.base import Sink


class Died(BaseException):
    """The process died here: nothing after this line ran (not an Exception, so no handler
    in the connector can catch it and carry on)."""


class DyingSink(Sink):
    """Wraps the real sink and dies at one chosen call; `puts` lists every key put."""

    kind = "dying"

    def __init__(
        self, inner: Sink, *, die_on_put: int = 0, stored: bool = False, die_on_exists: int = 0
    ) -> None:
        self.inner = inner
        self.die_on_put = die_on_put
        self.stored = stored
        self.die_on_exists = die_on_exists
        self.puts: list[str] = []
        self.exists_calls = 0
        self.died_at: str | None = None

    @classmethod
    def from_config(cls, cfg: OutputConfig) -> Sink:
        raise NotImplementedError

    def put(self, key: str, body: bytes, check_lease: Callable[[], None] | None = None) -> None:
        self.puts.append(key)
        if len(self.puts) == self.die_on_put:
            if self.stored:
                self.inner.put(key, body, check_lease)
            self.died_at = key
            raise Died(f"put #{len(self.puts)} ({'stored' if self.stored else 'not stored'})")
        self.inner.put(key, body, check_lease)

    def exists(self, key: str, size: int | None = None) -> bool:
        self.exists_calls += 1
        if self.exists_calls == self.die_on_exists:
            raise Died(f"exists #{self.exists_calls}")
        return self.inner.exists(key, size)

    def get(self, key: str) -> bytes:
        return self.inner.get(key)
