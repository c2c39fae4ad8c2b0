"""What a search lists of an output, in as few requests as its layout permits.

Over S3 every LIST page (1,000 keys) is a request, and listing a month's index folder
lists every per-object index in it. So:

- data objects: one glob per log type and month (`partitions.month_globs`), the globs
  side by side over S3 (`parallel`);
- a day's compacted index: its name follows from the day's objects (`compact.name`), so
  for each day the file covering all of its listed objects is asked for by name (over
  S3 a HEAD, which reading its footer needs anyway) and, when it is there, used: no file
  can cover more of the day (`compact.choose`'s rule). Only a day without it (objects
  landed after it was written, or never compacted) has its index folder listed and
  `compact.choose` pick among its files;
- per-object indexes: listed under the days of the objects no day file covers (today's,
  late ones), or the months' folders when that takes fewer requests.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

import duckdb

from connector.search import compact, index, parallel, partitions
from connector.search.index import INDEX

GLOB = "SELECT file FROM glob(?)"
THERE = "SELECT filename FROM read_blob(?)"
FOOTER = "SELECT count(*) FROM parquet_kv_metadata(?)"
PAGE = 1000
"""Keys an S3 LIST page holds."""


def glob(db: duckdb.DuckDBPyConnection, pattern: str) -> list[str]:
    return [row[0] for row in db.execute(GLOB, [pattern]).fetchall()]


Seen = list[tuple[str, set[str]]]
"""What a search listed: (glob or exact path, the paths it gave), for `gone`."""


def globs(
    db: duckdb.DuckDBPyConnection, root: str, patterns: Sequence[str], seen: Seen | None = None
) -> list[str]:
    """Every path the `patterns` find, side by side over S3, each pattern's noted in
    `seen`; raises `duckdb.Error`."""
    found = list(parallel.each(db, patterns, glob, parallel.remote(root)))
    if seen is not None:
        seen += [(pattern, set(paths)) for pattern, paths in zip(patterns, found, strict=True)]
    return [path for paths in found for path in paths]


def gone(db: duckdb.DuckDBPyConnection, root: str, seen: Seen) -> bool:
    """Whether a path `seen` is no longer there (a glob no longer lists it; a path found by
    name no longer exists): an index file deleted (`search.gc`) since the search found
    it. Raises `duckdb.Error`."""
    named = {path for pattern, paths in seen if paths == {pattern} for path in paths}
    if set(there(db, root, sorted(named))) != named:
        return True
    return any(not paths <= set(glob(db, pattern)) for pattern, paths in seen if paths != {pattern})


def months(
    root: str, folders: Sequence[str], since: datetime, until: datetime, suffix: str
) -> list[str]:
    """The globs of the months of [since, until] of each log type's folder."""
    return [p for f in folders for p in partitions.month_globs(root, f, since, until, suffix)]


def day_files(
    db: duckdb.DuckDBPyConnection,
    root: str,
    listing: Sequence[str],
    files: Sequence[str],
    seen: Seen | None = None,
) -> dict[str, list[str]]:
    """`compact.choose` for the days of `files` (data objects in the window, of the
    `listing` of their months, full paths under `root`): per day, the compacted file a
    search uses, with the full paths of the objects it covers; what was found noted in
    `seen`. Raises `duckdb.Error`."""
    by_day: dict[str, list[str]] = defaultdict(list)
    for path in listing:
        if (day := compact.day_of(path[len(root) + 1 :])) is not None:
            by_day[day].append(path[len(root) + 1 :])
    days = sorted({d for f in files if (d := compact.day_of(f[len(root) + 1 :])) is not None})
    named = {day: f"{root}/{compact.name(day, by_day[day])}" for day in days}
    present = set(listing)
    found = there(db, root, list(named.values()))
    if seen is not None:
        seen += [(path, {path}) for path in found]
    chosen = compact.choose(db, found, present, root)
    rest = [day for day in days if named[day] not in chosen]
    listed = globs(db, root, [f"{root}/{INDEX}/{day}/*{compact.SUFFIX}" for day in rest], seen)
    chosen.update(compact.choose(db, listed, present, root))
    return chosen


def there(db: duckdb.DuckDBPyConnection, root: str, paths: Sequence[str]) -> list[str]:
    """Those of `paths` (Parquet files) that exist: locally one query; over S3 each
    one's HEAD and footer read side by side, the footer kept in DuckDB's cache for the
    queries that follow (a store that cannot answer is "not there": the listing that
    follows says why)."""
    if not paths:
        return []
    if not parallel.remote(root):
        return [row[0] for row in db.execute(THERE, [list(paths)]).fetchall()]
    found = parallel.each(db, paths, _there, side_by_side=True)
    return [path for path, yes in zip(paths, found, strict=True) if yes]


def _there(db: duckdb.DuckDBPyConnection, path: str) -> bool:
    try:
        return bool(db.execute(FOOTER, [path]).fetchall())
    except (duckdb.HTTPException, duckdb.IOException):
        return False


def object_indexes(
    db: duckdb.DuckDBPyConnection,
    root: str,
    files: Sequence[str],
    month_globs: Sequence[str],
    listed: int,
    seen: Seen | None = None,
) -> set[str]:
    """The per-object index files under the days of `files` (full paths), listed per
    day, or per month (`month_globs`, of the `listed` data objects' months) where that is
    fewer requests; what was listed noted in `seen`. Raises `duckdb.Error`."""
    days = {compact.day_of(f[len(root) + 1 :]) for f in files}
    named = sorted(d for d in days if d is not None)
    if len(named) < len(days) or len(named) > len(month_globs) + listed // PAGE:
        return set(globs(db, root, month_globs, seen))
    patterns = [f"{root}/{INDEX}/{day}/**/*{index.SUFFIX}" for day in named]
    return set(globs(db, root, patterns, seen))


def folders(root: str, paths: Sequence[str]) -> list[str]:
    """The log types' folders `paths` (under `root`) are in."""
    return sorted({path[len(root) + 1 :].split("/", 1)[0] for path in paths})
