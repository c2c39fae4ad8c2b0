"""Indicator search over what the connector landed, with DuckDB.

DuckDB lists the objects of the months in range (`glob`, over S3 through its httpfs
extension), `partitions.prune` keeps those whose Hive partition overlaps the range, and
`read_json_objects` streams their gzip NDJSON lines. SQL only narrows: a line must
contain one indicator's `prefilter` text and fall in the time range as a string; each
candidate is then parsed and checked with `Indicator.matches`, the rule the watchlist
and the slash command use too. Objects with an index are answered from it (`lookup`).
The summaries are counted by DuckDB over the matching lines (`tally`), each row under
every indicator it matches.

S3 credentials come from boto3's standard chain (environment, profile, instance or pod
role) and are handed to DuckDB as a temporary secret; they never appear in an error.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import orjson

from connector import clock
from connector.indicators import keys
from connector.indicators.match import Indicator
from connector.search import (
    daylookup,
    duckdb_s3,
    index,
    listing,
    lookup,
    objects,
    parallel,
    partitions,
)
from connector.search.results import (
    Found,
    Hit,
    Newest,
    SearchError,
    Window,
    first_line,
    in_window,
)
from connector.search.tally import Tallies

if TYPE_CHECKING:
    from connector.config.settings import OutputConfig

FETCH = 2048
SCAN_AHEAD = 4
"""Objects scanned side by side over S3: each one's lines passing the prefilter are held
until taken (up to ~10 MB for a value in every row of a 10,000-row object)."""
RELISTS = 3
"""How often a search starts over when an index file it listed was deleted before it read
it (`search.gc` waits an hour after a file stops being read: only a search that ran that
long meets it, and a new listing no longer holds the file)."""
DUCKDB_CONFIG: dict[str, str | bool | int | float | list[str]] = {
    "autoinstall_known_extensions": False,
    "memory_limit": "1GB",
    "threads": 1,
}
"""No download at run time, nothing printed over `--format json` (DuckDB draws a progress
bar on stdout for slow queries), a bound on what a search can take from the daemon, and
one thread: a second one's idle spinning after every query cost the tallies 15-50 % more
CPU (docs/benchmarks.md, "Tallies in SQL"), and a search's worker processes already run
side by side."""


def log_type_names(selected: Sequence[str] = ()) -> list[str]:
    """`audit` or `Slack.AuditLogs` to the folder name; all log types when none is given."""
    from connector.logtypes import REGISTRY  # the log types' models: imported when used

    by_name = {name: cls.log_type for name, cls in REGISTRY.items()}
    folders = set(by_name.values())
    out = []
    for item in selected or sorted(by_name):
        folder = by_name.get(item, item)
        if folder not in folders:
            raise SearchError(f"unknown log type {item!r}; choose from {sorted(by_name)}")
        out.append(folder)
    return list(dict.fromkeys(out))


class Searcher:
    """One DuckDB connection over one output; reuse it so later searches are warm (Parquet
    footers and S3 object metadata are cached: landed objects and their indexes are never
    changed once written, only new ones listed; file contents are not, which would grow
    with the files read)."""

    def __init__(self, output: OutputConfig) -> None:
        if output.type == "stdout":
            raise SearchError('output: type "stdout" keeps nothing to search; use local or s3')
        self.output = output
        self._db = parallel.session(duckdb.connect(config=DUCKDB_CONFIG))
        self._listed: list[tuple[str, set[str]]] = []
        if output.type == "s3":
            self.root = f"s3://{output.bucket}/{output.prefix}".rstrip("/")
            try:
                duckdb_s3.configure(self._db, output)
            except duckdb_s3.S3SetupError as exc:
                raise SearchError(str(exc)) from None
        else:
            self.root = str(Path(output.path).resolve() / output.prefix).rstrip("/")

    @property
    def db(self) -> duckdb.DuckDBPyConnection:
        return self._db

    def close(self) -> None:
        self._db.close()

    def _vanished(self) -> bool:
        """Whether an index file this search listed (or found by name) is gone."""
        try:
            return listing.gone(self._db, self.root, self._listed)
        except duckdb.Error:
            return False

    def files(self, window: Window, log_types: Sequence[str]) -> list[str]:
        return partitions.prune(self.months(window, log_types), window.since, window.until)

    def months(self, window: Window, log_types: Sequence[str], suffix: str = "") -> list[str]:
        """Every data object (or, with `suffix`, index file) of the months of `window`."""
        patterns = self._globs(window, log_types, suffix)
        try:
            seen = self._listed if suffix else None
            return listing.globs(self._db, self.root, patterns, seen)
        except duckdb.Error as exc:
            raise SearchError(f"cannot list {self.root}: {first_line(exc)}") from None

    def _globs(self, window: Window, log_types: Sequence[str], suffix: str = "") -> list[str]:
        """The globs of `months`."""
        root = f"{self.root}/{index.INDEX}" if suffix else self.root
        suffix = suffix or index.DATA_SUFFIX
        return listing.months(root, log_types, window.since, window.until, suffix)

    def search(
        self,
        indicators: Sequence[Indicator],
        window: Window,
        log_types: Sequence[str] = (),
        limit: int = 100,
    ) -> list[Hit]:
        """Matching events, newest first, at most `limit`; raises `SearchError`."""
        return self.find(indicators, window, log_types, limit).hits

    def find(
        self,
        indicators: Sequence[Indicator],
        window: Window,
        log_types: Sequence[str] = (),
        limit: int = 100,
        tally: bool = True,
    ) -> Found:
        """The newest `limit` matches and a summary of all of them (only the count, first
        and last seen without `tally`); raises `SearchError`. A read that fails because an
        index file listed has since been deleted (`search.gc`, after its grace) starts
        over from a new listing, which no longer holds it."""
        for attempt in range(RELISTS + 1):
            self._listed = []
            try:
                return self._find(indicators, window, log_types, limit, tally)
            except duckdb.Error as exc:
                if attempt == RELISTS or not self._vanished():
                    raise SearchError(f"cannot read {self.root}: {first_line(exc)}") from None
        raise AssertionError("unreachable")

    def _find(
        self,
        indicators: Sequence[Indicator],
        window: Window,
        log_types: Sequence[str],
        limit: int,
        tally: bool,
    ) -> Found:
        listed = self.months(window, log_type_names(log_types))
        files = partitions.prune(listed, window.since, window.until)
        if not files:
            since, until = (clock.rfc3339(int(t.timestamp())) for t in (window.since, window.until))
            raise SearchError(
                f"nothing landed under {self.root} between {since} and {until}: "
                "check [output] and that the connector has run"
            )
        indicators = list({i.label: i for i in indicators}.values())
        tallies = Tallies(self._db, indicators, facets=tally)
        kept = Newest(limit)
        wanted = [(i, keys.lookup(i)) for i in indicators]
        if all(look for _, look in wanted):
            files = self._compacted(files, listed, window, wanted, kept, tallies)  # type: ignore[arg-type]
            if files:
                files = self._indexed(files, len(listed), window, wanted, kept, tallies)  # type: ignore[arg-type]
        if files:
            self._scan(files, indicators, window, kept, tallies)
        summaries = tallies.done()
        for summary in summaries if kept.cut else ():
            summary.complete = False
        return Found(kept.newest(), summaries, window, tuple(log_types), limit, kept.rows)

    def matches(
        self, files: list[str], indicators: Sequence[Indicator], window: Window
    ) -> list[Hit]:
        """Every match in `files` (each shown under the first indicator it matches), read
        by a scan; raises `SearchError`."""
        patterns = [i.prefilter() for i in indicators]
        pattern = "|".join(f"(?:{p})" for p in patterns) if all(patterns) else "."
        hits: list[Hit] = []
        try:
            cursor = self._db.execute(NARROWED, [files, pattern])
            while chunk := cursor.fetchmany(FETCH):
                hits += [hit for hit, _ in _matches(chunk, indicators, window)]
        except duckdb.Error as exc:
            raise SearchError(f"cannot read {self.root}: {first_line(exc)}") from None
        return hits

    def _scan(
        self,
        files: list[str],
        indicators: Sequence[Indicator],
        window: Window,
        kept: Newest,
        tallies: Tallies,
    ) -> None:
        patterns = [i.prefilter() for i in indicators]
        if all(patterns):
            pattern = "|".join(f"(?:{p})" for p in patterns)
            self._narrowed(files, pattern, indicators, window, kept, tallies)
        else:
            self._in_time_order(files, indicators, window, kept, tallies)

    def _indexed(
        self,
        files: list[str],
        listed: int,
        window: Window,
        wanted: Sequence[tuple[Indicator, keys.Lookup]],
        kept: Newest,
        tallies: Tallies,
    ) -> list[str]:
        """Answer from the indexes of the objects that have one; returned to be scanned:
        the objects without one (landed before indexing, or whose index is still being
        written) and those the index sends to be read (`lookup`). Counts come from the
        index; rows are parsed from the listed objects newest listed line first until no
        object left can hold a row newer than the `limit` kept. With the tallies, every
        listed object's matching lines go to DuckDB, unparsed (`tally`); the indexes are
        listed under the days of `files` (`listing.object_indexes`; `listed`: how many
        data objects the months hold)."""
        folders = listing.folders(self.root, files)
        patterns = self._globs(window, folders, index.SUFFIX)
        present = listing.object_indexes(self._db, self.root, files, patterns, listed, self._listed)
        covered = {i: f for f in files if (i := self.index_of(f)) in present}
        indicators = [i for i, _ in wanted]
        looks = [look for _, look in wanted]
        found = lookup.plan(
            self._db,
            sorted(covered),
            looks,
            (window.since - index.EPOCH) // index.MICRO,
            (window.until - index.EPOCH) // index.MICRO,
        )
        if not tallies.facets:
            for mine, summary in zip(tallies.summaries, found.summaries(indicators), strict=True):
                mine.merge(summary)
        kept.rows += sum(listed.rows for listed in found.listed.values())
        newest = sorted(found.listed, key=lambda name: found.listed[name].newest(), reverse=True)
        showing = True
        step = lookup.CHUNK if tallies.facets else 1
        bodies: dict[str, bytes] = {}
        for start in range(0, len(newest), step):
            held = lookup.held_lines(self._db, newest[start : start + step], looks)
            for n, (name, keys_held) in enumerate(held.items(), start):
                if covered[name] not in bodies:
                    ahead = newest[n : n + (objects.READ_TOGETHER if tallies.facets else 1)]
                    bodies = objects.bodies(self._db, [covered[i] for i in ahead])
                per = lookup.lines(found.listed[name], keys_held)
                rows = objects.lines(covered[name], bodies.pop(covered[name]))
                if showing:
                    kept.add(objects.hits(covered[name], rows, per, indicators), window)
                    showing = not _past(found, newest, n + 1, kept)
                for ord_, numbers in per.items() if tallies.facets else ():
                    tallies.add(ord_, objects.text(covered[name], rows, numbers))
            if not (showing or tallies.facets):
                break
        read = set(found.read)
        answered = {f for i, f in covered.items() if i not in read}
        return [f for f in files if f not in answered]

    def _compacted(
        self,
        files: list[str],
        listed: list[str],
        window: Window,
        wanted: Sequence[tuple[Indicator, keys.Lookup]],
        kept: Newest,
        tallies: Tallies,
    ) -> list[str]:
        """Answer from the days' compacted indexes (`daylookup`) for the objects they
        cover (the days' files found by `listing.day_files`, of the data objects `listed`
        in the window's months); returned: the objects none covers (`daylookup.answer`
        says how the rest is answered)."""
        chosen = listing.day_files(self._db, self.root, listed, files, self._listed)
        if not chosen:
            return files
        daylookup.answer(self._db, chosen, wanted, window, kept, tallies)
        answered = {path for paths in chosen.values() for path in paths}
        return [f for f in files if f not in answered]

    def index_of(self, data: str) -> str | None:
        key = index.index_key(data[len(self.root) + 1 :], "")
        return f"{self.root}/{key}" if key else None

    def _narrowed(
        self,
        files: list[str],
        pattern: str,
        indicators: Sequence[Indicator],
        window: Window,
        kept: Newest,
        tallies: Tallies,
    ) -> None:
        """Every indicator has a prefilter: few lines pass it, so every match is read
        (the summary counts them all), the newest kept here, and no line is parsed for
        its time in SQL (a third of the query's time). Over S3 an object a query, a few
        side by side (each a HEAD and a GET), their lines taken in the objects' order."""
        if parallel.remote(self.root):
            each = [(NARROWED, [[path], pattern]) for path in files]
            for lines in parallel.each(self._db, each, _fetched, True, ahead=SCAN_AHEAD):
                _keep(_matches(lines, indicators, window), window, kept, tallies)
            return
        cursor = self._db.execute(NARROWED, [files, pattern])
        while chunk := cursor.fetchmany(FETCH):
            _keep(_matches(chunk, indicators, window), window, kept, tallies)

    def _in_time_order(
        self,
        files: list[str],
        indicators: Sequence[Indicator],
        window: Window,
        kept: Newest,
        tallies: Tallies,
    ) -> None:
        """A broad range admits every line: DuckDB filters and orders by time, newest
        first, and reading stops at `limit` matches (the summary then says "at least").
        The lower bound is the first second without its `Z`: a time with a fraction in
        that second (`...:00.5Z`) sorts below `...:00Z` (`.` < `Z`), never below `...:00`."""
        low = clock.rfc3339(int(window.since.timestamp())).removesuffix("Z")
        high = clock.rfc3339(int(window.until.timestamp()) + 1)
        cursor = self._db.execute(IN_TIME_ORDER, [files, low, high])
        while chunk := cursor.fetchmany(FETCH):
            _keep(_matches(chunk, indicators, window), window, kept, tallies)
            if len(kept.heap) >= kept.limit:
                kept.cut = bool(cursor.fetchmany(1))
                return


NARROWED = """
SELECT line FROM (
    SELECT json::VARCHAR AS line FROM read_json_objects(?, format = 'newline_delimited')
)
WHERE regexp_matches(line, ?)
"""
IN_TIME_ORDER = """
SELECT line FROM (
    SELECT json::VARCHAR AS line, json_extract_string(json, '$.p_event_time') AS event_at
    FROM read_json_objects(?, format = 'newline_delimited')
)
WHERE event_at >= ? AND event_at <= ?
ORDER BY event_at DESC
"""


def _matches(
    chunk: list[tuple[Any, ...]], indicators: Sequence[Indicator], window: Window
) -> list[tuple[Hit, list[int]]]:
    """The matches among a scan's candidate lines: each as a hit under the first
    indicator it matches, with the positions of all it matches."""
    out = []
    for (line,) in chunk:
        row = orjson.loads(line)
        if not in_window(row, window):
            continue
        ords = [n for n, indicator in enumerate(indicators) if indicator.matches(row, line)]
        if ords:
            out.append((Hit(indicators[ords[0]], row, line), ords))
    return out


def _keep(
    matched: list[tuple[Hit, list[int]]], window: Window, kept: Newest, tallies: Tallies
) -> None:
    """A scan's matches: the newest kept, every one handed to the tallies under each
    indicator it matches."""
    kept.add([hit for hit, _ in matched], window)
    kept.rows += len(matched)
    lines: dict[int, list[str]] = defaultdict(list)
    for hit, ords in matched:
        for ord_ in ords:
            lines[ord_].append(hit.line)
    for ord_, held in lines.items():
        tallies.add(ord_, "\n".join(held))


def _fetched(db: duckdb.DuckDBPyConnection, query: tuple[str, list[Any]]) -> list[Any]:
    return db.execute(*query).fetchall()


def _past(found: lookup.Plan, newest: list[str], next_: int, kept: Newest) -> bool:
    """Whether no listed object from `newest[next_]` on can hold a row newer than those
    kept."""
    return next_ == len(newest) or kept.settled(found.listed[newest[next_]].newest())
