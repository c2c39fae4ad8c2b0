"""Reading rows of a landed object by line number gives what splitting it gives.

`objects.rows` decompresses only as far as the last line wanted and cuts the lines out
of the pieces it decompressed; `objects.lines` splits the whole object. Over any lines
(empty ones, long ones spanning pieces, carriage returns), any split into gzip members,
any piece size and any line numbers (past the end too) they must agree.
"""

from __future__ import annotations

import gzip
import itertools

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from connector.search import objects

LINE = st.one_of(
    st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"n")),
    st.integers(0, 3_000).map(lambda n: b"x" * n),
    st.sampled_from([b"", b"a\rb", b"\r", b"{}"]),
)


def _body(lines: list[bytes], cuts: list[int], trailing: bool) -> bytes:
    """`lines` as NDJSON, cut into gzip members at the byte positions `cuts`."""
    text = b"\n".join(lines) + (b"\n" if trailing and lines else b"")
    edges = sorted({0, len(text), *(c % (len(text) + 1) for c in cuts)})
    members = [text[a:b] for a, b in itertools.pairwise(edges)] or [b""]
    return b"".join(gzip.compress(m, mtime=0) for m in members)


@settings(max_examples=300, deadline=None)
@given(
    lines=st.lists(LINE, max_size=60),
    cuts=st.lists(st.integers(0, 10**6), max_size=3),
    trailing=st.booleans(),
    numbers=st.lists(st.integers(0, 70), max_size=6),
    step=st.sampled_from([1, 7, 64, 1 << 16]),
)
@example(lines=[b"a", b"b"], cuts=[], trailing=False, numbers=[1], step=1)
@example(lines=[b"x" * 3_000, b"y"], cuts=[1_500], trailing=True, numbers=[0, 1, 2], step=7)
@example(lines=[b"a", b"b\rc", b"d"], cuts=[], trailing=True, numbers=[0, 3], step=1)
def test_rows_are_the_lines_splitting_gives(
    lines: list[bytes], cuts: list[int], trailing: bool, numbers: list[int], step: int
) -> None:
    body = _body(lines, cuts, trailing)
    every = objects.lines("p", body)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(objects, "STEP", step)
        assert objects.rows("p", body, numbers) == {n: every[n] for n in numbers if n < len(every)}
        assert objects.lines("p", body) == every
