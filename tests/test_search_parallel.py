"""`parallel.each` answers in the items' order whether it reads side by side or not,
holds at most `ahead` answers, raises a read's error where its answer is taken, and
leaves no thread or cursor behind when the caller stops early."""

from __future__ import annotations

import threading
import time
from typing import Any

import duckdb
import pytest

from connector.search import parallel


def _square(db: duckdb.DuckDBPyConnection, n: int) -> int:
    time.sleep(0.001 * (n % 3))  # answers come back out of order
    row = db.execute("SELECT ? * ?", [n, n]).fetchone()
    assert row is not None
    return int(row[0])


@pytest.mark.parametrize("side_by_side", [False, True])
def test_answers_come_in_order(side_by_side: bool) -> None:
    db = duckdb.connect()
    items = list(range(40))
    assert list(parallel.each(db, items, _square, side_by_side, ahead=3)) == [n * n for n in items]


def test_at_most_ahead_answers_are_read_before_they_are_taken() -> None:
    db = duckdb.connect()
    started: list[int] = []
    lock = threading.Lock()

    def read(cursor: Any, n: int) -> int:
        with lock:
            started.append(n)
        return n

    answers = parallel.each(db, list(range(100)), read, True, ahead=4)
    for taken, n in enumerate(answers):
        time.sleep(0.002)
        with lock:
            assert len(started) <= taken + 1 + 4, (taken, len(started))
        if n == 10:
            answers.close()  # the caller stops: the pool and cursors are closed
            break
    assert len(started) <= 16
    assert not [t for t in threading.enumerate() if t.name.startswith("search-read")]


def test_a_reads_error_is_raised_where_its_answer_is_taken() -> None:
    db = duckdb.connect()

    def read(cursor: duckdb.DuckDBPyConnection, n: int) -> int:
        if n == 5:
            cursor.execute("SELECT error('a read failed')")
        return n

    answers = parallel.each(db, list(range(10)), read, True)
    assert [next(answers) for _ in range(5)] == [0, 1, 2, 3, 4]
    with pytest.raises(duckdb.Error, match="a read failed"):
        next(answers)


def test_cursors_keep_the_search_settings() -> None:
    db = parallel.session(duckdb.connect())

    def settings(cursor: duckdb.DuckDBPyConnection, _: int) -> tuple[Any, ...]:
        row = cursor.execute(
            "SELECT current_setting('enable_progress_bar'), current_setting('parquet_metadata_cache')"
        ).fetchone()
        assert row is not None
        return tuple(row)

    assert set(parallel.each(db, [1, 2, 3], settings, True)) == {(False, True)}
