"""Structure rules of the package: no import cycles, no function over 80 lines."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).parents[1] / "src" / "cellucid"
MAX_FUNCTION_LINES = 80


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """cellucid modules imported anywhere in the file (also inside functions)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        else:
            continue
        found |= {n for n in names if n in modules}
    if TYPE_CHECKING_ONLY in path.read_text(encoding="utf-8"):
        found -= type_checking_imports(path, modules)
    return found


TYPE_CHECKING_ONLY = "if TYPE_CHECKING:"


def type_checking_imports(path: Path, modules: set[str]) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
            for inner in ast.walk(node):
                if isinstance(inner, ast.ImportFrom) and inner.module in modules:
                    names.add(inner.module)
    return names


def graph() -> dict[str, set[str]]:
    files = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    modules = set(files)
    edges = {name: imports_of(path, modules) - {name} for name, path in files.items()}
    # importing a submodule runs its package's __init__ first; that is not a cycle of ours
    return {
        name: {t for t in targets if not name.startswith(t + ".")}
        for name, targets in edges.items()
    }


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(edges.get(node, ())):
            if state.get(target) == 1:
                return stack[stack.index(target) :] + [target]
            if target not in state:
                cycle = visit(target)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_no_import_cycles():
    cycle = find_cycle(graph())
    assert cycle is None, " -> ".join(cycle)


def test_no_function_over_80_lines():
    long = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(PACKAGE)}:{node.name} ({length} lines)")
    assert not long, long


# Layers: which top-level packages each layer may not import. The folder-only rules live
# in the folder's planner, so the shared layers never need a sink.
FORBIDDEN = {
    "cellucid.inputs": ("cellucid.checks", "cellucid.engine", "cellucid.sinks"),
    "cellucid.checks": ("cellucid.engine", "cellucid.sinks"),
    "cellucid.engine": ("cellucid.sinks",),
    "cellucid.sinks.folder": ("cellucid.sinks.anndata",),
    "cellucid.sinks.anndata": ("cellucid.sinks.folder",),
}


def layer_violations(edges: dict[str, set[str]]) -> list[str]:
    """``importer -> imported`` for every import that crosses a forbidden layer boundary."""
    found = []
    for source, targets in sorted(edges.items()):
        for layer, forbidden in FORBIDDEN.items():
            if source != layer and not source.startswith(layer + "."):
                continue
            found += [
                f"{source} -> {target}"
                for target in sorted(targets)
                if any(target == f or target.startswith(f + ".") for f in forbidden)
            ]
    return found


def package_of(module: str) -> str:
    """The top-level package a module belongs to (``cellucid.sinks.folder`` counts as one)."""
    parts = module.split(".")
    depth = 3 if parts[1:2] == ["sinks"] and len(parts) > 2 else 2
    return ".".join(parts[:depth])


def test_layers_import_only_downwards():
    assert layer_violations(graph()) == []


def test_layer_rules_catch_a_forbidden_import():
    edges = {"cellucid.engine.runner": {"cellucid.sinks.folder.plan.types"}}
    assert layer_violations(edges) == ["cellucid.engine.runner -> cellucid.sinks.folder.plan.types"]


def test_no_cycle_between_top_level_packages():
    packages: dict[str, set[str]] = {}
    for source, targets in graph().items():
        here = package_of(source)
        packages.setdefault(here, set()).update(
            package_of(t) for t in targets if package_of(t) != here
        )
    cycle = find_cycle(packages)
    assert cycle is None, " -> ".join(cycle)


# Shared top-level modules every layer may import (inputs, checks, engine, both sinks): they
# import nothing from cellucid (type hints aside), so no layer reaches another through them.
SHARED = ("cellucid.errors",)


def test_shared_modules_import_nothing_from_cellucid():
    edges = graph()
    assert {name: sorted(edges[name]) for name in SHARED if edges[name]} == {}
