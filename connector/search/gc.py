"""Deleting the index files no search reads any more, once no search can still be reading them.

Once a day is compacted (`search.compact`), a search answers the objects its day file
covers from that file (`compact.choose`: per day, the file covering the most objects
whose objects all exist), so two kinds of index files are dead weight:

- the per-object indexes (`search.index`, any version) of the objects that file covers;
- the day's other compacted files (any version) that cover a subset of its objects
  (written before late objects landed, or by an earlier format).

They are deleted only when the covering file is older than a grace period (by its
store's LastModified, or mtime): a search lists the index files, then reads them, and a
search that listed before the covering file existed reads what it listed. It would have
to run for the whole grace to find one gone, and then it lists again (`query.Searcher`
retries when a file it listed has vanished). Nothing else is deleted: never a data
object, never an index of an object no existing, readable day file of the current
version covers, never a file the search would choose. A file whose metadata cannot be
read is left alone. Each deletion stands alone, so a run killed at any point leaves only
files a search either still chooses or no longer reads; the next run finishes the work.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import duckdb

from connector.search import compact, index
from connector.search.listing import months
from connector.search.results import Window

GRACE_SECONDS = 3600
"""The default grace (`slack-connector index --grace`): far longer than a search's deadline
(`/seclogs` and the worker's) and any listing cache."""
BLOBS = "SELECT filename, size, epoch_us(last_modified) FROM read_blob(?)"
_PER_OBJECT = re.compile(r"\.v\d+\.parquet$")
_DAY_FILE = re.compile(r"/day-\d+-[0-9a-f]+\.c\d+\.parquet$")


@dataclass(frozen=True)
class Blob:
    """An index file as listed: its full path, bytes and LastModified or mtime (µs; the
    store's clock, whole seconds locally)."""

    path: str
    size: int
    modified: int


@dataclass
class Plan:
    """What a sweep deletes (`doomed`, by path) and how many files no search reads wait
    for their covering day file to be older than the grace."""

    doomed: dict[str, Blob] = field(default_factory=dict)
    waiting: int = 0

    @property
    def bytes(self) -> int:
        return sum(blob.size for blob in self.doomed.values())


def listing(
    db: duckdb.DuckDBPyConnection, root: str, window: Window, folders: Sequence[str]
) -> list[Blob]:
    """Every index file under `root`'s `_index/` in the months of `window`, with its size
    and modification time; raises `duckdb.Error`."""
    out: list[Blob] = []
    for pattern in months(f"{root}/{index.INDEX}", folders, window.since, window.until, ".parquet"):
        out += [Blob(*row) for row in db.execute(BLOBS, [pattern]).fetchall()]
    return sorted(set(out), key=lambda blob: blob.path)


def plan(
    db: duckdb.DuckDBPyConnection,
    root: str,
    present: set[str],
    blobs: Iterable[Blob],
    now_us: int,
    grace_s: float,
) -> Plan:
    """Which of the index files `blobs` can go, given the data objects `present` (paths
    under `root`): the dead files (module docstring) of each day whose chosen file is
    older than `grace_s` at `now_us`. Raises `duckdb.Error` (a day file unreadable)."""
    days: dict[str, list[Blob]] = {}
    objects: dict[str, list[Blob]] = {}
    for blob in blobs:
        if _DAY_FILE.search(blob.path):
            days.setdefault(blob.path.rsplit("/", 1)[0], []).append(blob)
        elif _PER_OBJECT.search(blob.path):
            rel = blob.path[len(root) + 1 :].removeprefix(f"{index.INDEX}/")
            objects.setdefault(f"{root}/{_PER_OBJECT.sub(index.DATA_SUFFIX, rel)}", []).append(blob)
    current = [b.path for files in days.values() for b in files if b.path.endswith(compact.SUFFIX)]
    chosen = compact.choose(db, current, present, root)
    out = Plan()
    for files in days.values():
        best = next((b for b in files if b.path in chosen), None)
        if best is None:
            continue
        mine = set(chosen[best.path])
        dead = [b for b in files if b is not best and _within(db, b.path, root, mine)]
        dead += [b for path in sorted(mine) for b in objects.get(path, ())]
        if best.modified <= now_us - int(grace_s * 1_000_000):
            out.doomed.update((b.path, b) for b in dead)
        else:
            out.waiting += len(dead)
    return out


def _within(db: duckdb.DuckDBPyConnection, file: str, root: str, objects: set[str]) -> bool:
    """Whether the compacted file (any version) covers only `objects`; False when its
    metadata cannot be read."""
    try:
        rows = db.execute(compact.COVERED, [[file], compact.META]).fetchall()
    except duckdb.Error:
        return False
    for _, value in rows:
        try:
            covers = json.loads(bytes(value))["objects"]
        except (ValueError, KeyError, TypeError):
            return False
        return all(isinstance(k, str) and f"{root}/{k}" in objects for k in covers)
    return False


def sweep(doomed: Plan, root: str, delete: Callable[[str], None]) -> int:
    """Delete the planned files (`delete` takes a path relative to `root`), per-object
    indexes first; returns how many went."""
    done = 0
    for path in sorted(doomed.doomed, key=lambda p: (bool(_DAY_FILE.search(p)), p)):
        delete(path[len(root) + 1 :])
        done += 1
    return done
