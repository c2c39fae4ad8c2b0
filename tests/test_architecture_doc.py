"""docs/architecture.md matches the code: every package it describes exists, every package
is described, and so is every root module; its layer table is the one the import-graph
test enforces."""

from __future__ import annotations

import re
from pathlib import Path

from tests.test_import_graph import LAYERS

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")


def packages() -> set[str]:
    return {p.parent.name for p in (ROOT / "connector").glob("*/__init__.py")}


def root_modules() -> set[str]:
    return {p.name for p in (ROOT / "connector").glob("*.py") if p.name != "__init__.py"}


def test_every_package_is_described_and_every_description_is_a_package() -> None:
    described = set(re.findall(r"^### `(\w+)/`$", DOC, flags=re.MULTILINE))
    assert sorted(described - packages()) == [], "described but not in connector/"
    assert sorted(packages() - described) == [], "in connector/ but not described"


def test_every_root_module_is_a_described_foundation() -> None:
    section = DOC.partition("### Foundations")[2]
    assert sorted(root_modules() - set(re.findall(r"`(\w+\.py)`", section))) == []


def test_the_layer_table_is_the_enforced_order() -> None:
    rows = re.findall(r"^\| [^|]+ \| (.+) \|$", DOC, flags=re.MULTILINE)[1:]
    cells = [tuple(re.findall(r"`(\w+)(?:/|\.py)`", row)) for row in reversed(rows)]
    table = [cell for cell in cells if cell]
    enforced = [tuple(m for m in layer if m != "connector") for layer in LAYERS]
    assert table == enforced
