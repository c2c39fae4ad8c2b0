from collections.abc import Callable, Iterable

from typing_extensions import Buffer

def crc32_many(data: Buffer, starts: Buffer, sizes: Buffer) -> bytes: ...
def fingerprints(
    data: Buffer, starts: Buffer, sizes: Buffer, ip4: int, ip6: int, hashed: int, bits: int
) -> bytes: ...
def count_lines(data: Buffer) -> int: ...
def vectors(on: bool) -> bool: ...

class Scanner:
    def __init__(
        self,
        value_keys: Callable[[str], tuple[str, ...]],
        username: Callable[[str], str],
        micros: Callable[[str], int | None],
        walk: Callable[[bytes], tuple[int, Iterable[str]] | None],
        limit: int,
    ) -> None: ...
    def scan(
        self, ndjson: bytes
    ) -> tuple[bytes, bytes, bytes, bytes, bytes, bytes, bytes] | None: ...
    def stats(self) -> dict[str, int]: ...
