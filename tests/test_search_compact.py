"""A day's compacted index answers exactly what the match rule answers.

Objects land in day partitions; some days get a compacted index (`search.compact`)
covering some of their objects, beside per-object indexes on some objects and none on
others, plus decoys a search must not use (a file naming an object that is gone, one
covering fewer objects). `Searcher.find` must give the count, first and last seen,
tallies, total and newest rows that folding `Summary.add` over the rows `matches` keeps
gives, in windows that cut days in two.
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

from connector.indicators import keys
from connector.indicators.object_keys import key_rows, object_keys
from connector.search import compact, daylookup, index
from tests.test_search_index import TYPED, WINDOWS, check_found, indicators, rows

DAYS = [1, 2, 29]
"""November days: WINDOWS[2] starts inside day 2 and ends at day 29's first second."""


def on_day(row: dict[str, Any], day: int) -> dict[str, Any]:
    """The row with its event time moved into `day` (a time that does not parse stays)."""
    when = row["p_event_time"]
    if when != "bad":
        row = {**row, "p_event_time": f"2026-11-{day:02d}{when[10:]}"}
    return row


def data_key(n: int, day: int) -> str:
    return f"Slack.AuditLogs/year=2026/month=11/day={day}/o{n}.json.gz"


def land(
    root: Path, objects: list[tuple[int, list[dict[str, Any]]]], how: list[int]
) -> list[dict[str, Any]]:
    """Each (day, rows) as one object; `how` per object: 0 no index, 1 its per-object
    index, 2 covered by its day's compacted index, 3 both. Also writes the decoys.
    Returns every row landed."""
    covered: dict[int, list[tuple[str, bytes]]] = {}
    days: dict[int, list[str]] = {}
    every = []
    for n, ((day, rows_), kind) in enumerate(zip(objects, how, strict=True)):
        rows_ = [on_day(r, day) for r in rows_]
        every += rows_
        lines = [orjson.dumps(r) for r in rows_]
        key = data_key(n, day)
        days.setdefault(day, []).append(key)
        (root / "p" / key).parent.mkdir(parents=True, exist_ok=True)
        (root / "p" / key).write_bytes(gzip.compress(b"\n".join(lines) + b"\n"))
        if kind & 1:
            where = root / str(index.index_key(f"p/{key}", "p"))
            where.parent.mkdir(parents=True, exist_ok=True)
            where.write_bytes(index.build(lines))
        if kind & 2:
            covered.setdefault(day, []).append((key, b"\n".join(lines) + b"\n"))
    wrong = b'{"p_event_time": "2026-11-01T00:00:00Z", "x": ["evil.example", "W0123ABCD"]}\n'
    for day, bodies in covered.items():
        old = [(key, wrong) for key in days[day]]  # every object, in an older format
        with mock.patch.object(compact, "VERSION", "1"):
            write_compacted(root, day, old)  # named as the current one (unless replaced)
            with mock.patch.object(compact, "SUFFIX", ".c1.parquet"):
                write_compacted(root, day, old)
        write_compacted(root, day, bodies)
        if len(bodies) > 1:  # covers fewer objects (and says something else)
            write_compacted(root, day, [(bodies[0][0], wrong), *bodies[1:-1]])
        gone = (data_key(99, day), wrong)  # covers more, one of them missing
        write_compacted(root, day, [(bodies[0][0], wrong), *bodies[1:], gone])
    return every


def built(bodies: list[tuple[str, bytes]]) -> tuple[list[str], Any]:
    """`compact.build`'s arguments for objects given with their bodies."""
    return [k for k, _ in bodies], dict(bodies).__getitem__


def write_compacted(root: Path, day: int, bodies: list[tuple[str, bytes]]) -> None:
    if not bodies:
        return
    name = compact.name(compact.day_of(bodies[0][0]) or "", [k for k, _ in bodies])
    (root / "p" / name).parent.mkdir(parents=True, exist_ok=True)
    (root / "p" / name).write_bytes(compact.build(*built(bodies)))


@pytest.mark.timeout(600)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(st.sampled_from(DAYS), st.lists(rows(), min_size=1, max_size=6)),
        min_size=1,
        max_size=4,
    ),
    st.lists(st.integers(0, 3), min_size=4, max_size=4),
    st.lists(TYPED, min_size=1, max_size=3),
    st.sampled_from(WINDOWS),
    st.sampled_from([1, 3, 100]),
    st.sampled_from([(1, 64), (2, 0), (compact.FIRST_LAST, daylookup.ENDS_KEYS)]),
)
@example(
    [(2, [{"details": "evil.example", "p_event_time": "2026-11-01T10:00:00.500000Z"}] * 2)],
    [2] * 4,
    ["evil.example", "sub.evil.example"],
    WINDOWS[2],
    1,
    (2, 64),
)
@example(
    [(1, [{"details": ["198.51.100.7", "W0123ABCD"], "p_event_time": "2026-11-01T00:00:00Z"}])] * 2,
    [2, 3, 0, 0],
    ["198.51.100.0/24", "W0123ABCD", "user:W0123ABCD"],
    WINDOWS[0],
    1,
    (1, 64),
)
@example(  # a key alone in its file, in rows at different times, its ends from its list
    [
        (
            1,
            [
                {"details": "W0123ABCD", "p_event_time": "2026-11-01T05:00:00Z"},
                {"details": "W0123ABCD", "p_event_time": "2026-11-01T00:00:00Z"},
            ],
        )
    ],
    [2] * 4,
    ["W0123ABCD"],
    WINDOWS[0],
    1,
    (compact.FIRST_LAST, daylookup.ENDS_KEYS),
)
def test_compacted_days_count_and_tally_like_the_rule(
    tmp_path_factory: Any,
    objects: list[tuple[int, list[dict[str, Any]]]],
    how: list[int],
    typed: list[str],
    window: tuple[str, str],
    limit: int,
    first_last: tuple[int, int],
) -> None:
    """`first_last`: from how many rows a key's first and last time are stored
    (`compact.FIRST_LAST`), drawn so the files hold both kinds whatever the rows drawn,
    and how many keys without them a search takes from their lists' ends
    (`daylookup.ENDS_KEYS`; beyond, they are counted from their postings)."""
    wanted = [i for i in indicators(typed) if keys.lookup(i) is not None]
    if not wanted:
        return
    root = tmp_path_factory.mktemp("out")
    quiet = (15, [{"details": "nothing here", "p_event_time": "2026-11-15T00:00:00Z"}])
    with mock.patch.object(compact, "FIRST_LAST", first_last[0]):  # `quiet`: in every window
        everything = land(root, [*objects, quiet], [*how[: len(objects)], 2])
    since, until = (datetime.fromisoformat(w) for w in window)
    with mock.patch.object(daylookup, "ENDS_KEYS", first_last[1]):
        check_found(root, wanted, everything, since, until, limit)


def test_a_compacted_file_is_a_pure_function_of_its_objects() -> None:
    """The same objects in any order give the same bytes and the same name, so writers
    racing write one answer; the postings are `object_keys`'s, one per (key, row)."""
    a = b'{"p_event_time": "2026-11-01T00:00:01Z", "ip": "198.51.100.7", "e": "a@b.example"}\n'
    b = b'{"p_event_time": "2026-11-01T00:00:00.25Z", "ip": "198.51.100.7"}\n' * 2
    objects = [(data_key(0, 1), a), (data_key(1, 1), b)]
    body = compact.build(*built(objects))
    assert compact.build(*built(objects[::-1])) == body
    names = [k for k, _ in objects]
    assert compact.name("d", names) == compact.name("d", names[::-1])
    assert compact.name("d", names) != compact.name("d", names[:1])
    import io

    import pyarrow.parquet as pq

    table = pq.read_table(io.BytesIO(body)).to_pylist()
    assert [r["key"] for r in table] == sorted(r["key"] for r in table)
    ip = next(r for r in table if r["key"] == "ip4:c6336407")
    assert (ip["n"], ip["obj"], ip["line"]) == (3, [1, 1, 0], [0, 1, 0])
    midnight = int(datetime(2026, 11, 1, tzinfo=UTC).timestamp())
    assert ip["sec"] == [midnight] * 2 + [midnight + 1] and ip["us"] == [250000] * 2 + [0]
    assert (ip["first"], ip["last"]) == (None, None)  # fewer than FIRST_LAST rows
    email = next(r for r in table if r["key"] == "email:a@b.example")
    assert (email["n"], email["first"], email["last"]) == (1, None, None)
    many = [(data_key(2, 1), b * (compact.FIRST_LAST // 2))]
    (ip,) = [r for r in pq.read_table(io.BytesIO(compact.build(*built(many)))).to_pylist()]
    assert (ip["n"], ip["first"], ip["last"]) == (
        compact.FIRST_LAST,
        *[midnight * 10**6 + 250000] * 2,
    )
    for _, ndjson in objects:
        grouped = object_keys(ndjson).to_pylist()
        pairs = key_rows(ndjson).to_pylist()
        assert sorted((g["key"], n) for g in grouped for n in g["lines"]) == sorted(
            (p["key"], p["line"]) for p in pairs
        )
    with pytest.raises(ValueError):
        compact.build([names[0], names[0]], dict(objects).__getitem__)
    empty = pq.read_table(io.BytesIO(compact.build([], dict(objects).__getitem__)))
    assert empty.num_rows == 0


def test_todo_takes_closed_days_not_yet_covered() -> None:
    day = "Slack.AuditLogs/year=2026/month=11/day=1"
    objects = [f"{day}/hour=0/a.json.gz", f"{day}/hour=1/b.json.gz"]
    today = "Slack.AuditLogs/year=2026/month=11/day=2"
    days = {day: objects, today: [f"{today}/hour=0/c.json.gz"]}
    assert compact.todo(days, "2026-11-02") == [(day, objects)]
    days[day + "/"] = [compact.name(day, objects[:1])]
    assert compact.todo(days, "2026-11-02") == [(day, objects)]
    days[day + "/"].append(compact.name(day, objects))
    assert compact.todo(days, "2026-11-02") == []
    assert compact.todo(days, "2026-11-03") == [(today, days[today])]


def test_index_compact_command_is_resumable_and_idempotent(
    slack: Any, tmp_path: Path, capsys: Any
) -> None:
    """`slack-connector index --compact` writes a file for each closed day, nothing on a
    rerun, a new one covering all when a day gains an object; searches agree throughout."""
    from connector.cli.main import main
    from tests.test_search import write_config

    out = tmp_path / "out"
    row = {"details": "evil.example", "p_event_time": "2026-11-01T00:00:00Z"}
    land(out, [(1, [row, row]), (2, [row]), (2, [row])], [1, 0, 0])
    config = write_config(tmp_path, slack, {"type": "local", "path": str(out), "prefix": "p"})
    search = ["search", "--config", config, "--format", "json", "--since", "2026-10-01"]
    search += ["--until", "2026-12-01", "--summary", "evil.example"]

    def count() -> int:
        capsys.readouterr()
        assert main(search) == 0
        return int(orjson.loads(capsys.readouterr().out.splitlines()[0])["summary"][0]["events"])

    assert count() == 4
    since = ["index", "--config", config, "--compact", "--since", "2026-10-01"]
    assert main(since) == 0
    assert "compacted 2 day(s), 4 row(s); 0 left" in capsys.readouterr().out
    assert len(list(out.rglob(f"*{compact.SUFFIX}"))) == 2
    assert count() == 4
    assert main(since) == 0
    assert "compacted 0 day(s)" in capsys.readouterr().out
    more = out / "p" / data_key(7, 2)
    more.write_bytes(gzip.compress(orjson.dumps(on_day(row, 2)) + b"\n"))
    assert count() == 5
    assert main(since) == 0
    assert "compacted 1 day(s), 3 row(s)" in capsys.readouterr().out
    assert count() == 5


def test_an_object_is_decompressed_only_as_far_as_the_lines_wanted() -> None:
    """`objects.rows` gives the lines `objects.lines` gives, across several gzip
    members, with a carriage return in a line, and a clear error for a damaged object."""
    from connector.search import objects
    from connector.search.results import SearchError

    lines = [b'{"n": %d, "pad": "%s"}' % (i, b"x" * (i % 50)) for i in range(100_000)]
    body = gzip.compress(b"\n".join(lines) + b"\n")
    two = body + gzip.compress(b'{"n": -1}\n{"r": "a\rb"}')
    every = objects.lines("p", two)
    assert every == [*lines, b'{"n": -1}', b'{"r": "a', b'b"}']
    for numbers in ([0], [7, 3], [54_321, 99_999], [100_000, 100_002], [5, 100_003]):
        assert objects.rows("p", two, numbers) == {n: every[n] for n in numbers if n < len(every)}
    assert objects.rows("p", body, [99_999, 100_000]) == {99_999: lines[-1]}
    assert (
        objects.lines("p", gzip.compress(b"")) == []
        and objects.rows("p", gzip.compress(b""), [0]) == {}
    )
    for bad in (b"not gzip", body[:1000], b"\x1f\x8b\x08\x00" + b"garbage" * 10_000):
        with pytest.raises(SearchError, match="cannot read p: "):
            objects.lines("p", bad)
        with pytest.raises(SearchError, match="cannot read p: "):
            objects.rows("p", bad, [3_000])
