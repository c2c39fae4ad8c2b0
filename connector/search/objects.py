"""The rows of landed data objects, read back by the line numbers an index gives.

Both indexes (per object, `lookup`, and per day, `daylookup`) name a matching row by its
object and line; only the rows shown (the newest `limit`) and those tallied are read.
Reading them is one concern apart from choosing them: the stored bytes of a few objects a
query, gzip members decompressed with isal (~3x zlib) only as far as the last line
wanted, and the lines numbered exactly as the index numbered them when it was built.
A damaged object is a `SearchError` naming it, never a wrong row.
"""

from __future__ import annotations

import zlib
from collections.abc import Generator, Iterable, Iterator, Mapping, Sequence
from typing import cast

import duckdb
import orjson
from isal import isal_zlib

from connector.indicators.match import Indicator
from connector.search import parallel
from connector.search.results import Hit, SearchError, first_line

BLOB = "SELECT filename, content FROM read_blob(string_split(?, chr(10)))"
READ_TOGETHER = 16
"""Listed objects read by one query for the tallies: fewer queries (each costs ~1 ms of
CPU), and at most this many compressed objects held at once."""


def bodies(db: duckdb.DuckDBPyConnection, paths: Sequence[str]) -> dict[str, bytes]:
    """The stored bytes of data objects, by path, read in one query (the paths as one
    string, see `lookup._run`)."""
    return dict(db.execute(BLOB, ["\n".join(paths)]).fetchall())


def stored(db: duckdb.DuckDBPyConnection, paths: list[str]) -> Iterator[tuple[str, bytes]]:
    """The stored bytes of `paths`: locally `READ_TOGETHER` objects a query; over S3
    each on its own, side by side (`parallel`), at most `READ_TOGETHER` held ahead of
    the caller, in order."""
    if not parallel.remote(paths[0] if paths else ""):
        for start in range(0, len(paths), READ_TOGETHER):
            yield from bodies(db, paths[start : start + READ_TOGETHER]).items()
        return
    for one in parallel.each(db, paths, _body, side_by_side=True, ahead=READ_TOGETHER):
        yield from one.items()


def _body(db: duckdb.DuckDBPyConnection, path: str) -> dict[str, bytes]:
    return bodies(db, [path])


def hits(
    path: str,
    rows: Sequence[bytes] | Mapping[int, bytes],
    per: dict[int, list[int]],
    indicators: Sequence[Indicator],
) -> list[Hit]:
    """The rows of one listed object that hold an indicator, each under the first."""
    first: dict[int, int] = {}
    for ord_ in sorted(per):
        for number in per[ord_]:
            first.setdefault(number, ord_)
    try:
        out = []
        for number, ord_ in sorted(first.items()):
            line = rows[number].decode()
            out.append(Hit(indicators[ord_], orjson.loads(line), line))
    except (IndexError, KeyError, ValueError) as exc:
        raise SearchError(f"cannot read {path}: {first_line(exc)}") from None
    return out


def lines(path: str, body: bytes) -> list[bytes]:
    """The lines of one data object, numbered as its index numbers them."""
    return _inflated(path, body).splitlines()


def rows(path: str, body: bytes, numbers: Iterable[int]) -> dict[int, bytes]:
    """The lines `numbers` of one data object (as `lines` numbers them), decompressed
    only as far as the last (isal, ~3x zlib's speed): the first screen of a rare
    indicator reads one row from each of 100 objects. A piece's newlines are counted,
    and only the piece holding a line wanted is searched for it (nothing is joined or
    split); a piece holding a carriage return sends the object to `splitlines`, which
    also splits there (orjson never writes one)."""
    wanted = sorted(set(numbers), reverse=True)
    out: dict[int, bytes] = {}
    line, tail = 0, b""  # the number of the line `tail` (its start so far) begins
    pieces = _pieces(path, body)
    for piece in pieces if wanted else ():
        if b"\r" in piece:
            pieces.close()
            every = _inflated(path, body, wanted[0]).splitlines()
            return {n: every[n] for n in sorted(set(numbers)) if n < len(every)}
        ends = piece.count(b"\n")
        at, start = line, 0  # line `at` starts at `start` (in `tail` + `piece`)
        while wanted and wanted[-1] < line + ends:
            for _ in range(wanted.pop() - at):
                start = piece.find(b"\n", start) + 1
                at += 1
            end = piece.find(b"\n", start)
            out[at] = piece[start:end] if at > line else tail + piece[:end]
        if ends:
            line, tail = line + ends, piece[piece.rfind(b"\n") + 1 :]
        else:
            tail += piece
        if not wanted:
            pieces.close()
    if wanted and tail and wanted[-1] == line:
        out[line] = tail
    return out


def text(path: str, rows: list[bytes], numbers: list[int]) -> str:
    """The lines `numbers` of one object, joined by newlines (a tally's input)."""
    try:
        return b"\n".join(map(rows.__getitem__, numbers)).decode()
    except (IndexError, ValueError) as exc:
        raise SearchError(f"cannot read {path}: {first_line(exc)}") from None


def _inflated(path: str, body: bytes, upto: int | None = None) -> bytes:
    """A gzip object's bytes: all of it (every member), or at least through line
    `upto`."""
    parts: list[bytes] = []
    held = 0
    pieces = _pieces(path, body)
    for piece in pieces:
        parts.append(piece)
        held += piece.count(b"\n")
        if upto is not None and held > upto:
            pieces.close()
            break
    return b"".join(parts)


def _pieces(path: str, body: bytes) -> Generator[bytes, None, None]:
    """A gzip object's decompressed bytes, piece by piece (`STEP` compressed bytes a
    piece), across every member; raises `SearchError` naming `path` where the object is
    damaged, once the pieces before the damage are taken."""
    try:
        at, data = 0, body
        stream = isal_zlib.decompressobj(GZIP)
        while at < len(data):
            piece = stream.decompress(data[at : at + STEP])
            at += STEP
            if stream.eof:  # a gzip member ends: another may follow
                data, at = stream.unused_data + data[at:], 0
                stream = isal_zlib.decompressobj(GZIP) if data else stream
            yield piece
        if not stream.eof:
            raise EOFError("the compressed object ends early")
    except BAD_GZIP as exc:
        raise SearchError(f"cannot read {path}: {first_line(exc)}") from None


BAD_GZIP = (OSError, EOFError, zlib.error, cast("type[Exception]", isal_zlib.error))
"""What a damaged object raises (isal's stubs call its error an instance: it is a class)."""
GZIP = 31
"""zlib's `wbits` for a gzip stream."""
STEP = 1 << 16
"""Compressed bytes decompressed at a time while looking for a line."""
