"""What the `index` command asks of an output before it indexes or compacts: the data
objects in a window that have no per-object index yet, and per day the data objects and
the compacted index files. Both list through the search's own `Searcher` (its months'
globs and its index names), so the command sees the output as a search does.
"""

from __future__ import annotations

from collections.abc import Sequence

from connector.search import compact, index, listing, partitions
from connector.search.query import Searcher, log_type_names
from connector.search.results import Window


def unindexed(searcher: Searcher, window: Window, log_types: Sequence[str] = ()) -> list[str]:
    """Keys (under the output, prefix included) of the data objects in the window that
    have no index yet, oldest partition first."""
    files = searcher.files(window, log_type_names(log_types))
    folders = listing.folders(searcher.root, files)
    present = set(searcher.months(window, folders, index.SUFFIX))
    base = len(searcher.root) - len(searcher.output.prefix)
    return [f[base:] for f in files if (i := searcher.index_of(f)) and i not in present]


def days(searcher: Searcher, window: Window, log_types: Sequence[str] = ()) -> dict[str, list[str]]:
    """Per partition-day in the window, its data objects and, apart, its compacted index
    files (key `day + "/"`), as keys under the output prefix, each sorted."""
    folders = log_type_names(log_types)
    out: dict[str, list[str]] = {}
    for suffix in ("", compact.SUFFIX):
        listed = searcher.months(window, folders, suffix)
        for path in partitions.prune(listed, window.since, window.until):
            rel = path[len(searcher.root) + 1 :]
            day = compact.day_of(rel.removeprefix(f"{index.INDEX}/"))
            if day is not None:
                out.setdefault(day + ("/" if suffix else ""), []).append(rel)
    return {day: sorted(keys) for day, keys in out.items()}
