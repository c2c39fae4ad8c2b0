"""No module outside a stream reads a checkpoint key by string (issue #27).

Every stream's checkpoint is a model (`connector.stream.checkpoint`); code elsewhere
reads it through the model's fields and accessors. This parses every module outside
`paging/` (where the streams and their models live) and `stream/` and fails on a
subscript or `.get()` of a checkpoint's stored key on anything named like a checkpoint.
"""

from __future__ import annotations

import ast
from pathlib import Path

from pydantic import BaseModel

import connector.logtypes  # noqa: F401  (registers every stream's checkpoint model)
from connector.stream.checkpoint import KINDS

ROOT = Path(__file__).resolve().parents[1] / "connector"
OWNERS = ("paging", "stream")


def stored_keys(model: type[BaseModel]) -> set[str]:
    keys: set[str] = set()
    for name, info in model.model_fields.items():
        keys.add(info.serialization_alias or info.alias or name)
        for arg in getattr(info.annotation, "__args__", (info.annotation,)):
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                keys |= stored_keys(arg)
    return keys


def checkpoint_like(node: ast.expr) -> bool:
    text = ast.unparse(node).lower()
    return "checkpoint" in text or text in ("cp", "kept", "daemon")


def reads(tree: ast.AST, keys: set[str]) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
            target, key = node.value, node.slice.value
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            target, key = node.func.value, node.args[0].value
        else:
            continue
        if key in keys and checkpoint_like(target):
            found.append(f"line {node.lineno}: {ast.unparse(node)}")
    return found


def test_the_models_name_their_stored_keys() -> None:
    keys = set().union(*(stored_keys(m) for m in KINDS.values()))
    assert {"newest", "window", "walk", "paging", "unsafe", "since", "remaining"} <= keys


def test_no_module_outside_a_stream_reads_a_checkpoint_key() -> None:
    keys = set().union(*(stored_keys(m) for m in KINDS.values()))
    wrong = []
    for path in sorted(ROOT.rglob("*.py")):
        if path.relative_to(ROOT).parts[0] in OWNERS:
            continue
        for found in reads(ast.parse(path.read_text(encoding="utf-8")), keys):
            wrong.append(f"{path.relative_to(ROOT.parent)} {found}")
    assert wrong == []


def test_the_check_sees_a_key_read() -> None:
    source = 'cp = store.checkpoint(s, "audit") or {}\nx = cp.get("covered_from")\n'
    source += 'y = page.checkpoint["remaining"]\nz = row["checkpoint"]\n'
    keys = {"covered_from", "remaining"}
    assert [f.split(":")[0] for f in reads(ast.parse(source), keys)] == ["line 2", "line 3"]
