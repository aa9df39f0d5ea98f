"""The formulas the theory page shows are the ones sympy derives today."""

from __future__ import annotations

import importlib.util
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_committed_formulas_match_the_sympy_objects():
    spec = importlib.util.spec_from_file_location("make_theory_figures", DOCS / "make_theory_figures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    expected = module.formula_files()
    committed = {p.name: p.read_text() for p in (DOCS / "theory_formulas").glob("*.inc")}
    assert committed == expected, "run `python docs/make_theory_figures.py` and commit the result"
