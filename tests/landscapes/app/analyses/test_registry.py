"""The analysis registry is the tree: every analysis file is registered, and nothing else."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from landscapes.app import analyses
from landscapes.app.analyses import REGISTRY, SHARED, get_analysis
from landscapes.app.analyses.base import Analysis

FOLDER = Path(analyses.__file__).parent
def test_every_analysis_file_is_registered_once():
    files = {p.stem for p in FOLDER.glob("*.py")} - {"__init__", *SHARED}
    assert files == set(REGISTRY.values())


@pytest.mark.parametrize("name", REGISTRY)
def test_each_entry_is_an_analysis_named_as_registered(name):
    analysis = get_analysis(name)
    assert isinstance(analysis, Analysis) and analysis.name == name
    assert analysis.title and analysis.description
    assert set(analysis.uses) >= {"replicates", "seed"}


#: Modules that must read what an analysis declares instead of asking who it is.
DISPATCHERS = [Path(analyses.__file__), FOLDER.parent / "projection.py",
               Path(__file__).parent / "test_agreement.py"]


def _dispatches(tree: ast.AST) -> list[str]:
    """``hasattr(`` calls and comparisons with an analysis' name in ``tree``."""
    def names(node: ast.AST) -> list[str]:
        if isinstance(node, ast.Constant) and node.value in REGISTRY:
            return [node.value]
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            return [n for e in node.elts for n in names(e)]
        return []

    found = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id == "hasattr"):
            found.append(f"line {node.lineno}: hasattr(")
        if isinstance(node, ast.Compare):
            for side in (node.left, *node.comparators):
                found += [f"line {node.lineno}: compares with {n!r}" for n in names(side)]
        if isinstance(node, ast.Dict):  # a table keyed by analysis names
            found += [f"line {node.lineno}: keyed by {n!r}" for k in node.keys
                      if k is not None for n in names(k)
                      if node is not _REGISTRY_NODE.get(id(tree))]
    return found


_REGISTRY_NODE: dict[int, ast.AST] = {}


@pytest.mark.parametrize("path", DISPATCHERS, ids=lambda p: p.name)
def test_nothing_dispatches_on_analysis_names_or_hasattr(path):
    tree = ast.parse(path.read_text())
    # the registry's own table is where the names live
    for node in ast.walk(tree):
        if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
                and node.target.id == "REGISTRY"):
            _REGISTRY_NODE[id(tree)] = node.value
    assert _dispatches(tree) == []


def test_the_dispatch_check_can_fail():
    source = ('if analysis.name == "trajectory": pass\nif hasattr(a, "grid"): pass\n'
              'x = a not in ("basin", "zoom")\nSKIP = {"optimizers": "why"}\n')
    assert len(_dispatches(ast.parse(source))) == 5
