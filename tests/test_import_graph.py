"""Imports run one way, from the CLI down to the foundations, and never in a circle.

Every module under connector/ is parsed with `ast` (nothing is imported), and every import
counts: at the top, inside functions, and under `TYPE_CHECKING`. Two rules:

* no circle: no module reaches itself through the modules it imports;
* no upward import: a module imports only from its own layer or the layers below it, in
  the order `LAYERS` declares. A layer is a package (or a root module). The stream
  contract (`stream`) sits below `paging`, which implements it, and `paging` below
  `logtypes`, which declares its parts: `paging` once imported `logtypes.base` for the
  contract, the one import that ran back up, and may not again.

Run it alone: `python -m pytest tests/test_import_graph.py`. A new package or root module
fails `test_every_package_has_a_layer` until it is placed here and in docs/architecture.md.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

LAYERS: list[tuple[str, ...]] = [
    # bottom first; a package may import its own layer and those above it in this list
    ("connector", "clock", "fsutil", "urls", "logs", "budget", "secrets", "httpd"),
    ("slack",),
    ("indicators",),
    ("stream",),
    ("paging",),
    ("logtypes",),
    ("state",),
    ("alerts",),
    ("oauth",),
    ("config",),
    ("credentials",),
    ("sinks",),
    ("ingest",),
    ("ocsf",),
    ("search",),
    ("watchlist",),
    ("slackapp",),
    ("detections",),
    ("service",),
    ("demo",),
    ("cli",),
]


def modules(root: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every module under `root`/connector."""
    found: dict[str, Path] = {}
    for path in sorted((root / "connector").rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def imports(name: str, path: Path, known: Iterable[str]) -> set[str]:
    """The connector modules `name` imports: `from a.b import c` is `a.b.c` when that is a
    module, else `a.b`; relative imports are resolved against the module's package."""
    known = set(known)
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            targets = [
                f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names
            ]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                out.add(target)
    return out


def graph(root: Path = ROOT) -> dict[str, set[str]]:
    found = modules(root)
    return {name: imports(name, path, found) for name, path in found.items()}


def unit(module: str) -> str:
    """The layer member a module belongs to: its top package under connector, or itself."""
    parts = module.split(".")
    return "connector" if len(parts) == 1 else parts[1]


def layer_of() -> dict[str, int]:
    return {member: i for i, layer in enumerate(LAYERS) for member in layer}


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def upward(edges: dict[str, set[str]]) -> list[str]:
    layers = layer_of()
    return sorted(
        f"{a} -> {b} ({unit(a)} is below {unit(b)})"
        for a, targets in edges.items()
        for b in targets
        if layers[unit(a)] < layers[unit(b)]
    )


def test_every_package_has_a_layer() -> None:
    members = {unit(m) for m in modules(ROOT)}
    declared = [m for layer in LAYERS for m in layer]
    assert sorted(members - set(declared)) == [], "place these in LAYERS"
    assert sorted(set(declared) - members) == [], "LAYERS names what does not exist"
    assert len(declared) == len(set(declared)), "a member in two layers"


def test_no_module_imports_itself_back() -> None:
    assert circles(graph()) == []


def test_no_import_runs_up_the_layers() -> None:
    assert upward(graph()) == []


def test_paging_never_imports_the_log_types() -> None:
    """The old upward import: paging implements the stream contract, which lives in
    `stream`, so nothing in `paging` (nor `stream`) reaches `logtypes`."""
    edges = graph()
    back = sorted(
        f"{a} -> {b}"
        for a, targets in edges.items()
        for b in targets
        if unit(a) in ("paging", "stream") and unit(b) == "logtypes"
    )
    assert back == []


def test_each_package_docstring_names_what_it_may_import() -> None:
    """`May import:` in a package's docstring lists at least every package it imports."""
    edges = graph()
    wrong = []
    for init in sorted((ROOT / "connector").glob("*/__init__.py")):
        package = init.parent.name
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
        _, _, allowed = doc.partition("May import:")
        assert allowed, f"connector/{package}/__init__.py: no 'May import:' in its docstring"
        used = {unit(b) for a, bs in edges.items() if unit(a) == package for b in bs} - {package}
        foundations = set(LAYERS[0])
        if "anything" in allowed or "everything" in allowed:
            bad = used & set(re.findall(r"`(\w+)`", allowed.partition("but")[2]))
        else:
            named = set(re.findall(r"`(\w+)`", allowed))
            bad = used - named - (foundations if "foundations" in allowed else set())
        if bad:
            wrong.append(f"{package} imports {sorted(bad)}, not in its 'May import:'")
    assert wrong == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from connector.b import f\n", {"connector.b"}),
        ("import connector.b\n", {"connector.b"}),
        ("def f():\n    from connector import b\n", {"connector.b"}),
        (
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .b import f\n",
            {"connector.b"},
        ),
    ],
)
def test_the_parser_sees_every_kind_of_import(
    tmp_path: Path, source: str, expected: set[str]
) -> None:
    """The checks above are only as good as the graph: lazy, relative and type-only
    imports are edges too, and a circle or an upward import is reported."""
    pkg = tmp_path / "connector"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text(source)
    (pkg / "b.py").write_text("from connector.a import x\n")
    edges = {
        name: imports(name, path, modules(tmp_path)) for name, path in modules(tmp_path).items()
    }
    assert edges["connector.a"] == expected
    assert circles(edges) == [["connector.a", "connector.b"]]
