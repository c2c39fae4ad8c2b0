"""Deleting the index files no search reads (`search.gc`) never changes an answer.

Any sequence of objects landing (with their per-object index or without, in days already
compacted or not), days compacted and sweeps (the grace over or not) leaves every
search's counts, first and last seen, tallies and newest rows equal to the scan's, and
never deletes a data object or the index of an object no chosen day file covers. A
search that listed a file a sweep deleted before it read it lists again and answers the
same; a file that cannot be read for another reason is still an error.
"""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest import mock

import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from connector.config.settings import OutputConfig
from connector.indicators import keys
from connector.search import compact, daylookup, gc, index, inventory, lookup
from connector.search.query import Searcher
from connector.search.results import SearchError, Window
from connector.sinks.local import LocalSink
from tests.test_search_compact import DAYS, data_key, on_day
from tests.test_search_index import TYPED, WINDOWS, check_found, indicators, rows

ALL = Window(datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC))
FOLDERS = ["Slack.AuditLogs"]


class Output:
    """A local output under prefix `p`, written and swept as `slack-connector index` does."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.sink = LocalSink(root)
        self.rows: list[dict[str, Any]] = []
        self.objects = 0

    def land(self, day: int, rows_: list[dict[str, Any]], indexed: bool) -> str:
        rows_ = [on_day(r, day) for r in rows_]
        self.rows += rows_
        lines = [orjson.dumps(r) for r in rows_]
        key = f"p/{data_key(self.objects, day)}"
        self.objects += 1
        self.sink.put(key, gzip.compress(b"\n".join(lines) + b"\n"))
        if indexed:
            self.sink.put(str(index.index_key(key, "p")), index.build(lines))
        return key

    def searcher(self) -> Searcher:
        return Searcher(OutputConfig(type="local", path=str(self.root), prefix="p"))

    def compact(self) -> int:
        searcher = self.searcher()
        try:
            days = inventory.days(searcher, ALL)
        finally:
            searcher.close()
        todo = compact.todo(days, "9999-12-31")
        for day, objects in todo:
            body = compact.build(objects, lambda k: gzip.decompress(self.sink.get(f"p/{k}")))
            self.sink.put(f"p/{compact.name(day, objects)}", body)
        return len(todo)

    def plan(self, now_us: int, grace_s: float) -> gc.Plan:
        searcher = self.searcher()
        try:
            present = set(searcher.files(ALL, FOLDERS))
            blobs = gc.listing(searcher.db, searcher.root, ALL, FOLDERS)
            return gc.plan(searcher.db, searcher.root, present, blobs, now_us, grace_s)
        finally:
            searcher.close()

    def sweep(self, grace_s: float, now_us: int | None = None) -> gc.Plan:
        now = now_us if now_us is not None else int(datetime.now(UTC).timestamp() * 1e6)
        doomed = self.plan(now, grace_s)
        gc.sweep(doomed, str(self.root.resolve() / "p"), lambda k: self.sink.delete(f"p/{k}"))
        return doomed

    def files(self, pattern: str) -> set[str]:
        return {str(p.relative_to(self.root)) for p in self.root.rglob(pattern) if p.is_file()}

    def chosen(self) -> dict[str, list[str]]:
        """What a search takes: per day, the day file and the objects (keys under the
        output) it covers."""
        searcher = self.searcher()
        base = str(self.root.resolve())
        try:
            present = set(searcher.files(ALL, FOLDERS))
            days = [f"{base}/{f}" for f in self.files(f"*{compact.SUFFIX}")]
            got = compact.choose(searcher.db, days, present, searcher.root)
        finally:
            searcher.close()
        return {f[len(base) + 1 :]: [p[len(base) + 1 :] for p in ps] for f, ps in got.items()}


Step = tuple[str, int, list[dict[str, Any]], bool]
STEPS = st.one_of(
    st.tuples(
        st.just("land"),
        st.sampled_from(DAYS),
        st.lists(rows(), min_size=1, max_size=4),
        st.booleans(),
    ),
    st.tuples(
        st.sampled_from(["compact", "sweep", "young"]), st.just(0), st.just([]), st.just(False)
    ),
)


@pytest.mark.timeout(900)
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(STEPS, min_size=1, max_size=7),
    st.lists(TYPED, min_size=1, max_size=3),
    st.sampled_from(WINDOWS),
    st.sampled_from([1, 100]),
)
@example(
    [
        ("land", 1, [{"details": "evil.example", "p_event_time": "2026-11-01T00:00:00Z"}], True),
        ("compact", 0, [], False),
        ("land", 1, [{"details": ["evil.example"], "p_event_time": "2026-11-01T00:00:01Z"}], True),
        ("young", 0, [], False),
        ("compact", 0, [], False),
        ("sweep", 0, [], False),
        ("land", 1, [{"details": "evil.example", "p_event_time": "2026-11-01T00:00:02Z"}], False),
    ],
    ["evil.example"],
    WINDOWS[0],
    1,
)
def test_any_sequence_of_land_compact_sweep_counts_like_the_scan(
    tmp_path_factory: Any,
    steps: list[Step],
    typed: list[str],
    window: tuple[str, str],
    limit: int,
) -> None:
    wanted = [i for i in indicators(typed) if keys.lookup(i) is not None]
    if not wanted:
        return
    out = Output(tmp_path_factory.mktemp("out"))
    out.land(15, [{"details": "nothing here", "p_event_time": "2026-11-15T00:00:00Z"}], True)
    since, until = (datetime.fromisoformat(w) for w in window)
    landed: set[str] = set()
    for kind, day, rows_, indexed in steps:
        before = out.files("*.parquet")
        chosen = out.chosen()
        if kind == "land":
            landed.add(out.land(day, rows_, indexed))
        elif kind == "compact":
            out.compact()
        else:  # a sweep: the grace over, or every day file still too young ("young")
            doomed = out.sweep(3600 if kind == "young" else 0)
            assert not doomed.doomed if kind == "young" else not doomed.waiting
        gone = before - out.files("*.parquet")
        covered = {index.index_key(p, "p") for ps in chosen.values() for p in ps}
        assert all(f in covered or (f not in chosen and f.endswith(compact.SUFFIX)) for f in gone)
        assert landed <= out.files("*.json.gz")
        check_found(out.root, wanted, out.rows, since, until, limit)


def test_a_sweep_waits_for_the_grace_and_removes_only_what_no_search_reads(tmp_path: Path) -> None:
    out = Output(tmp_path)
    row = {"details": "evil.example", "p_event_time": "2026-11-01T00:00:00Z"}
    first, second = out.land(1, [row], True), out.land(1, [row, row], True)
    alone = out.land(2, [row], True)
    with mock.patch.object(compact, "VERSION", "1"):
        with mock.patch.object(compact, "SUFFIX", ".c1.parquet"):
            assert out.compact() == 2  # the old format's files
            older = out.files("*.c1.parquet")
    assert out.compact() == 2
    late = out.land(1, [row], True)
    assert out.compact() == 1  # day 1 again, covering `late` too

    def day_file(*objects: str) -> str:
        keys = [k.removeprefix("p/") for k in objects]
        return f"p/{compact.name(compact.day_of(keys[0]) or '', keys)}"

    superseded, kept, kept2 = (
        day_file(first, second),
        day_file(first, second, late),
        day_file(alone),
    )
    # a day file naming an object that is gone is never chosen: nothing it covers goes
    ghost = [data_key(90, 2), alone.removeprefix("p/")]
    out.sink.put(
        day_file(*ghost),
        compact.build(ghost, lambda _: b'{"p_event_time": "2026-11-02T00:00:00Z"}\n'),
    )
    unreadable = "p/_index/Slack.AuditLogs/year=2026/month=11/day=1/day-000009-00.c1.parquet"
    out.sink.put(unreadable, b"?")
    per_object = {str(index.index_key(k, "p")) for k in (first, second, alone, late)}
    dead = {*per_object, superseded, *older}
    assert len(older) == 2 and dead <= out.files("*.parquet")
    young = out.plan(int(datetime.now(UTC).timestamp() * 1e6), 3600)
    assert not young.doomed and young.waiting == len(dead)
    base = out.root.resolve()
    assert set(out.sweep(0).doomed) == {str(base / p) for p in dead}
    assert out.files("*.parquet") == {kept, kept2, day_file(*ghost), unreadable}
    assert {first, second, alone, late} <= out.files("*.json.gz")
    assert out.sweep(0).doomed == {}
    check_found(out.root, indicators(["evil.example"]), out.rows, ALL.since, ALL.until, 100)


def _race(out: Output, target: Any, name: str) -> list[int]:
    """Patch `target.name` so that, the first time a search calls it, the days are
    compacted (again) and swept (grace over) between the search's listing and its read;
    returns the calls made."""
    real = getattr(target, name)
    calls: list[int] = []

    def racing(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            assert out.compact()
            assert out.sweep(0).doomed
        return real(*args, **kwargs)

    mock.patch.object(target, name, racing).start()
    return calls


@pytest.mark.parametrize("compacted_first", [True, False])
def test_a_search_meeting_a_deleted_file_lists_again(tmp_path: Path, compacted_first: bool) -> None:
    """The search lists a day file (or, before any, the per-object indexes), a sweep
    deletes it before the search reads it, the read fails and the search starts over: the
    same answer as the scan."""
    out = Output(tmp_path)
    row = {"details": "evil.example", "p_event_time": "2026-11-01T00:00:00Z"}
    out.land(1, [row, row], True)
    if compacted_first:
        out.compact()
    out.land(1, [row], True)  # landed late, or before any compaction
    # between finding the day's file (by name, else by listing its day) and reading it
    _race(out, daylookup, "plan") if compacted_first else _race(out, lookup, "plan")
    tries = mock.patch.object(Searcher, "_find", autospec=True, side_effect=Searcher._find)
    try:
        with tries as attempts:
            check_found(out.root, indicators(["evil.example"]), out.rows, ALL.since, ALL.until, 2)
    finally:
        mock.patch.stopall()
    assert attempts.call_count == 3  # the first search twice (listed again), the second once


def test_an_unreadable_index_file_is_still_an_error(tmp_path: Path) -> None:
    out = Output(tmp_path)
    out.land(1, [{"details": "evil.example", "p_event_time": "2026-11-01T00:00:00Z"}], True)
    out.compact()
    (day_file,) = out.files(f"*{compact.SUFFIX}")
    (out.root / day_file).write_bytes(b"not parquet")
    searcher = out.searcher()
    try:
        with pytest.raises(SearchError, match="cannot read"):
            searcher.find(indicators(["evil.example"]), ALL)
    finally:
        searcher.close()


def test_index_compact_and_gc_commands_over_s3(
    slack: Any, tmp_path: Path, s3_bucket: tuple[Any, str], moto_endpoint: str, capsys: Any
) -> None:
    """On S3 (moto): `index --compact --keep` deletes nothing, `index --compact` keeps
    what the grace protects, `--gc --grace 0` deletes the per-object indexes the day
    files cover (LastModified from the store), `index` does not write them again,
    searches agree throughout; a bad grace exits 2."""
    from connector.cli.main import main
    from tests.test_search import write_config

    client, bucket = s3_bucket
    row = {"details": "evil.example", "p_event_time": "2026-11-01T00:00:00Z"}
    staged = Output(tmp_path / "staged")
    for day, rows_ in ((1, [row, row]), (2, [row]), (2, [row])):
        staged.land(day, rows_, True)
    for key in staged.files("*"):
        client.put_object(Bucket=bucket, Key=f"logs/{key}", Body=(staged.root / key).read_bytes())
    output = {"type": "s3", "bucket": bucket, "prefix": "logs/p", "region": "us-east-1"}
    config = write_config(tmp_path, slack, {**output, "endpoint_url": moto_endpoint})

    def run(*args: str) -> str:
        capsys.readouterr()
        assert main([*args, "--config", config, "--since", "2026-10-01"]) == 0
        return str(capsys.readouterr().out)

    def keys() -> set[str]:
        listed = client.list_objects_v2(Bucket=bucket, Prefix="logs/p/_index/")
        return {o["Key"].removeprefix("logs/") for o in listed.get("Contents", [])}

    def count() -> int:
        got = run(
            "search", "--format", "json", "--until", "2026-12-01", "--summary", "evil.example"
        )
        return int(orjson.loads(got.splitlines()[0])["summary"][0]["events"])

    per_object = {f for f in keys() if f.endswith(index.SUFFIX)}
    assert len(per_object) == 3 and count() == 4
    said = run("index", "--compact", "--keep", "--grace", "0")
    assert "compacted 2 day(s), 4 row(s)" in said and "deleted" not in said
    assert per_object <= keys()
    said = run("index", "--compact")
    assert "compacted 0 day(s)" in said
    assert "deleted 0 index file(s)" in said and "3 more once their day file is 3600 s old" in said
    assert per_object <= keys() and count() == 4
    said = run("index", "--gc", "--grace", "0")
    assert "deleted 3 index file(s)" in said, said
    left = keys()
    assert not per_object & left and len(left) == 2 and count() == 4
    assert "indexed 0 object(s)" in run("index")
    assert keys() == left and count() == 4
    capsys.readouterr()
    assert main(["index", "--config", config, "--since", "30d", "--gc", "--grace", "soon"]) == 2
    assert "--grace: 'soon' is not an age" in capsys.readouterr().err


def test_a_search_over_s3_meeting_a_deleted_file_lists_again(
    tmp_path: Path, s3_bucket: tuple[Any, str], moto_endpoint: str
) -> None:
    """On S3 (moto): the search lists the per-object indexes, the day file lands and a
    sweep deletes them before the search reads them; it lists again and counts right."""
    client, bucket = s3_bucket
    staged = Output(tmp_path / "staged")
    row = {"details": "evil.example", "p_event_time": "2026-11-01T00:00:00Z"}
    staged.land(1, [row, row], True)
    staged.land(1, [row], True)
    per_object = staged.files("*.v3.parquet")
    for key in staged.files("*.*"):
        client.put_object(Bucket=bucket, Key=key, Body=(staged.root / key).read_bytes())
    staged.compact()
    (day_file,) = staged.files(f"*{compact.SUFFIX}")
    real = lookup.plan
    calls: list[int] = []

    def racing(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            client.put_object(
                Bucket=bucket, Key=day_file, Body=(staged.root / day_file).read_bytes()
            )
            for key in per_object:
                client.delete_object(Bucket=bucket, Key=key)
        return real(*args, **kwargs)

    output = OutputConfig(
        type="s3", bucket=bucket, prefix="p", region="us-east-1", endpoint_url=moto_endpoint
    )
    searcher = Searcher(output)
    try:
        with (
            mock.patch.object(lookup, "plan", racing),
            mock.patch.object(
                Searcher, "_find", autospec=True, side_effect=Searcher._find
            ) as attempts,
        ):
            found = searcher.find(indicators(["evil.example"]), ALL, tally=False)
    finally:
        searcher.close()
    assert found.summaries[0].count == 3 and found.total == 3
    assert attempts.call_count == 2 and len(calls) == 1
