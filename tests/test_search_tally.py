"""DuckDB's tallies (`search.tally`) say what folding `Summary.add` over the same rows says.

Rows of every log type with the fields a summary reads as strings (with spaces Python's
`str.strip` removes, empty, unicode), absent, null, or of another JSON kind (numbers,
booleans, objects: those rows are folded by `Summary.add` itself), and
`p_any_ip_addresses` as a list of anything or not a list.
"""

from __future__ import annotations

import sys
from typing import Any

import duckdb
import orjson
from hypothesis import example, given, settings
from hypothesis import strategies as st

from connector.indicators.match import parse
from connector.search import render, summary, tally
from connector.search.summary import Summary

IP = parse("203.0.113.7")
TEXT = st.sampled_from(
    ["", "x", " added ", "\u2028app\u3000", "bot\t", "U0AB1", "Ålice", "a <b>", "0", "None"]
)
ODD = st.one_of(st.none(), st.integers(-2, 2), st.booleans(), st.just({"a": 1}), st.just([1]))
VALUE = st.one_of(TEXT, TEXT, TEXT, ODD)
LOG_TYPES = st.sampled_from([*render.DESCRIBE, "Slack.Other", ""])
FIELDS = [p.removeprefix("$.") for p in tally.FIELDS.values() if p.count(".") == 1]


@st.composite
def rows(draw: st.DrawFn) -> dict[str, Any]:
    row: dict[str, Any] = {"p_event_time": draw(st.sampled_from(["2026-11-01T00:00:00Z", "b"]))}
    for name in FIELDS:
        if draw(st.booleans()):
            row[name] = draw(VALUE)
    row["p_log_type"] = draw(LOG_TYPES)
    if draw(st.booleans()):
        user = {k: draw(VALUE) for k in ("name", "id", "email") if draw(st.booleans())}
        row["actor"] = draw(st.sampled_from([{"user": user}, user, "x"]))
    if draw(st.booleans()):
        row["p_any_ip_addresses"] = draw(
            st.one_of(st.lists(st.one_of(TEXT, ODD), max_size=3), VALUE)
        )
    return row


@settings(max_examples=200, deadline=None)
@given(st.lists(rows(), max_size=12), st.booleans())
@example([{"p_log_type": "Slack.IntegrationLogs", "change_type": " a ", "app_type": "b\t"}], True)
@example([{"p_log_type": "Slack.AuditLogs", "action": 1, "p_any_ip_addresses": [None]}], True)
def test_duckdb_tallies_what_summary_add_folds(rows_: list[dict[str, Any]], facets: bool) -> None:
    want = Summary(IP)
    for row in rows_:
        want.add(row)
    db = duckdb.connect()
    try:
        tallies = tally.Tallies(db, [IP], facets=facets)
        half = len(rows_) // 2
        for part in (rows_[:half], rows_[half:]):
            tallies.add(0, "\n".join(orjson.dumps(r).decode() for r in part))
        (got,) = tallies.done()
    finally:
        db.close()
    assert (got.count, got.first_seen, got.last_seen) == (
        want.count,
        want.first_seen,
        want.last_seen,
    )
    for name in ("log_types", "sources", "actors", "actions", "ips"):
        counts = dict(getattr(want, name).counts) if facets else {}
        assert dict(getattr(got, name).counts) == counts, name


def test_every_log_type_a_summary_describes_has_its_sql() -> None:
    assert set(tally.WHO) == set(render.DESCRIBE)
    assert set(tally.ACTION) == set(summary.ACTION)


def test_no_character_past_space_max_is_whitespace() -> None:
    assert not [c for c in range(tally.SPACE_MAX + 1, sys.maxunicode + 1) if chr(c).isspace()]
