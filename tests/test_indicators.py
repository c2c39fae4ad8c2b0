"""The compiled `p_any_*` function agrees with the obvious walk over the schema's paths."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from connector.indicators.extract import compile_indicators, field_name, is_ip
from connector.logtypes import REGISTRY

VALUES = st.one_of(
    st.none(),
    st.sampled_from(["", "a@b.c", "x@y.z", "roy", "Joe", "1.23.45.678", "81.2.69.143", "::1"]),
    st.integers(0, 3),
)


def reference(paths: dict[str, list[tuple[str, ...]]], record: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for kind, kind_paths in paths.items():
        values: set[str] = set()
        for path in kind_paths:
            value: Any = record
            for key in path:
                value = value.get(key) if isinstance(value, dict) else None
            if isinstance(value, str) and value and (kind != "ip" or is_ip(value)):
                values.add(value)
        if values:
            row[field_name(kind)] = sorted(values)
    return row


def shaped(paths: list[tuple[str, ...]]) -> st.SearchStrategy[dict[str, Any]]:
    """Records with the nested objects of the paths present, null or missing."""
    tree: dict[str, Any] = {}
    for path in paths:
        node = tree
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node.setdefault(path[-1], None)

    def build(node: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
        children = {
            k: (st.one_of(st.none(), build(v)) if isinstance(v, dict) else VALUES)
            for k, v in node.items()
        }
        return st.fixed_dictionaries({}, optional=children)

    return build(tree)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_compiled_indicators_match_the_reference(data: st.DataObject) -> None:
    for cls in REGISTRY.values():
        paths = cls.indicator_paths
        record = data.draw(shaped([p for ps in paths.values() for p in ps]))
        row: dict[str, Any] = {}
        compile_indicators(paths)(record, row)
        assert row == reference(paths, record)


def test_no_indicator_paths_sets_nothing() -> None:
    row: dict[str, Any] = {}
    compile_indicators({})({"x": 1}, row)
    assert row == {}
