"""The layers of the package, checked on every module the tree holds.

1. ``theory`` and the core of ``landscapes`` (everything outside ``landscapes.app``);
2. ``experiments``, on the core;
3. ``landscapes.app``, the only place that imports all of them.

Each rule reads the imports of every ``.py`` file under the three packages with
:mod:`ast`, including imports inside functions (a lazy import is still a dependency).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("landscapes", "theory", "experiments")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            found[_module_name(path)] = path
    return found


def _statements(path: Path, module: str) -> list[tuple[str, list[str] | None]]:
    """Every import statement of ``path``, function-level ones included: its target
    module (absolute, relative imports resolved) and the names of a ``from`` import
    (``None`` for a plain ``import``)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out: list[tuple[str, list[str] | None]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(alias.name, None) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            out.append((target, [alias.name for alias in node.names]))
    return out


def _imports(path: Path, module: str) -> set[str]:
    """Every module ``path`` imports, absolute, relative imports resolved."""
    out: set[str] = set()
    for target, names in _statements(path, module):
        out.add(target)
        # `from landscapes import app` imports the subpackage landscapes.app.
        out.update(f"{target}.{name}" for name in names or ())
    return out


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _is_entry_shim(path: Path) -> bool:
    """A ``python -m landscapes.X`` shim: imports ``main`` from ``landscapes.app.X`` only."""
    tree = ast.parse(path.read_text())
    froms = [n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    app = [n for n in froms if n.module and _within(n.module, "landscapes.app")]
    return (len(app) == 1 and app[0].module == f"landscapes.app.{path.stem}"
            and [a.name for a in app[0].names] == ["main"])


MODULES = _modules()
CORE = {m: p for m, p in MODULES.items()
        if _within(m, "landscapes") and not _within(m, "landscapes.app")}


def test_the_walk_sees_every_layer():
    # A walk that finds nothing would pass every rule below.
    assert {"landscapes.paths", "landscapes.engine.sweep", "theory.deep_linear",
            "experiments.train", "landscapes.app.compare"} <= set(MODULES)


@pytest.mark.parametrize("module", sorted(m for m in MODULES if _within(m, "theory")))
def test_theory_imports_no_torch_and_nothing_above_it(module):
    bad = {name for name in _imports(MODULES[module], module)
           if _within(name, "torch") or _within(name, "experiments")
           or _within(name, "landscapes.app") or _within(name, "landscapes.engine")}
    assert not bad, f"{module} imports {sorted(bad)}"


@pytest.mark.parametrize("module", sorted(CORE))
def test_core_imports_no_experiments_theory_or_app(module):
    path = MODULES[module]
    names = _imports(path, module)
    bad = {n for n in names if _within(n, "experiments") or _within(n, "theory")}
    app = {n for n in names if _within(n, "landscapes.app")}
    if app and not _is_entry_shim(path):
        bad |= app
    assert not bad, f"{module} (core) imports {sorted(bad)}"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if _within(m, "experiments")))
def test_experiments_import_neither_the_app_nor_the_engine(module):
    # Training picks its device from landscapes.devices; the engine is the core's
    # evaluation machinery, which experiments never need.
    bad = {n for n in _imports(MODULES[module], module)
           if _within(n, "landscapes.app") or _within(n, "landscapes.engine")}
    assert not bad, f"{module} imports {sorted(bad)}"


def test_the_rules_catch_a_violation(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from experiments import train\n    from . import app\n")
    names = _imports(bad, "landscapes.bad")
    assert "experiments" in names and "landscapes.app" in names
    assert not _is_entry_shim(bad)


def _dependencies(path: Path, module: str) -> set[str]:
    """The modules of the tree that ``module`` imports, as Python resolves them.

    ``from package import name`` depends on ``package.name`` when that is a module, and
    on the package itself otherwise; a package's ``__init__`` importing its own
    submodules is how a package is built, not a cycle, so parents are not implied.
    Imports inside functions and under ``TYPE_CHECKING`` count, as in :func:`_imports`.
    """
    out: set[str] = set()
    for target, names in _statements(path, module):
        if names is None:
            out.add(target)
            continue
        subs = {f"{target}.{name}" for name in names} & set(MODULES)
        out |= subs
        if len(subs) < len(names):
            out.add(target)
    return {name for name in out if name in MODULES and name != module}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle through each strongly connected group of ``graph`` (Tarjan's walk)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = set()
            while True:
                top = stack.pop()
                group.add(top)
                if top == node:
                    break
            if len(group) > 1:
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_cycle_in(graph, group) for group in groups]


def _cycle_in(graph: dict[str, set[str]], group: set[str]) -> list[str]:
    """A shortest cycle through the first module of a strongly connected ``group``."""
    start = min(group)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        step = []
        for node in frontier:
            for nxt in sorted(graph[node] & group):
                if nxt == start:
                    return [*paths[node], start]
                if nxt not in paths:
                    paths[nxt] = [*paths[node], nxt]
                    step.append(nxt)
        frontier = step
    raise AssertionError(f"{sorted(group)} is not strongly connected")


def test_no_import_cycles():
    graph = {module: _dependencies(path, module) for module, path in MODULES.items()}
    found = _cycles(graph)
    assert not found, "import cycles:\n" + "\n".join(" -> ".join(c) for c in found)


def test_the_cycle_walk_finds_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set()}
    assert _cycles(graph) == [["a", "b", "c", "a"]]
