"""The import graph of flowam: no cycle, counting the imports inside functions too, and
nothing below the command line imports it or the experiments (they sit on top)."""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "flowam"


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, lazy: bool) -> set[str]:
    """The flowam modules ``path`` imports at module level (and, with ``lazy``, inside
    functions too), each resolved to the module file that exists."""
    tree = ast.parse(path.read_text())
    nodes = ast.walk(tree) if lazy else tree.body
    found = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("flowam"):
            names = [f"{node.module}.{a.name}" for a in node.names] + [node.module]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names if a.name.startswith("flowam")]
        else:
            continue
        for name in names:  # `from flowam import cache` is the module flowam.cache
            if name in MODULES:
                found.add(name)
                break
    return found - {module_name(path)}


MODULES = {module_name(p) for p in PACKAGE.rglob("*.py")}


@pytest.mark.parametrize("lazy", [False, True], ids=["module level", "inside functions too"])
def test_imports_have_no_cycle(lazy):
    graph = {module_name(p): imports(p, lazy=lazy) for p in PACKAGE.rglob("*.py")}
    order = list(graphlib.TopologicalSorter(graph).static_order())  # CycleError if any
    assert set(order) >= MODULES - {"flowam"}


def test_nothing_below_the_command_line_imports_it_or_the_experiments():
    for path in PACKAGE.rglob("*.py"):
        name = module_name(path)
        if name == "flowam.__main__" or name.split(".")[:2] == ["flowam", "cli"]:
            continue
        used = imports(path, lazy=True)
        assert not {u for u in used if u.split(".")[:2] == ["flowam", "cli"]}, name
        if not name.startswith("flowam.experiments"):
            assert not {u for u in used if u.startswith("flowam.experiments")}, name
