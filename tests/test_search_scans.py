"""The day files' key rows are read by one scan per key or key range (`daylookup.scans`,
which DuckDB prunes by row-group statistics), and they are exactly the rows the OR of
every lookup (`daylookup.condition`) selects, each once."""

from __future__ import annotations

import duckdb
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from connector.indicators.keys import Lookup
from connector.search import daylookup

KEYS = [f"ip4:{n:08x}" for n in (0, 5, 9, 10, 200, 255)] + ["uid:W1", "uname:w1", "dom:x"]
KEY = st.sampled_from(KEYS)
LOOKUP = st.one_of(
    st.lists(KEY, min_size=1, max_size=2).map(lambda ks: Lookup(tuple(ks))),
    st.tuples(KEY, KEY).map(lambda ab: Lookup(low=min(ab), high=max(ab))),
)


@pytest.fixture(scope="module")
def day_file(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A Parquet file of one row per key, in row groups of two (so the scans prune)."""
    path = str(tmp_path_factory.mktemp("scans") / "day.parquet")
    db = duckdb.connect()
    db.execute("CREATE TABLE t AS SELECT unnest(?::VARCHAR[]) AS key ORDER BY key", [KEYS])
    db.execute(f"COPY t TO '{path}' (FORMAT parquet, ROW_GROUP_SIZE 2)")
    return path


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(wanted=st.lists(LOOKUP, min_size=1, max_size=4))
@example(wanted=[Lookup(low="ip4:00000000", high="ip4:0000000a"), Lookup(("ip4:00000005",))])
@example(
    wanted=[
        Lookup(low="ip4:00000005", high="ip4:000000c8"),
        Lookup(low="ip4:00000000", high="ip4:00000009"),
    ]
)
def test_scans_select_the_rows_the_condition_selects_once(
    day_file: str, wanted: list[Lookup]
) -> None:
    db = duckdb.connect()
    where, params = daylookup.condition(wanted)
    every = f"SELECT key FROM read_parquet('{day_file}') WHERE {where}"
    expected = sorted(r[0] for r in db.execute(every, params).fetchall())
    sql, params = daylookup.scans(wanted, "key")
    got = sorted(r[0] for r in db.execute(sql, {**params, "files": day_file}).fetchall())
    assert got == expected
