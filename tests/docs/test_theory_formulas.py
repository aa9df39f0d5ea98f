"""The formulas the theory page shows are the ones sympy derives today."""

from __future__ import annotations

from pathlib import Path

from landscapes.app.papers.goodfellow2015 import formula_files

FORMULAS = Path(__file__).resolve().parents[2] / "docs" / "reproductions" / "goodfellow2015" / "formulas"


def test_committed_formulas_match_the_sympy_objects():
    committed = {p.name: p.read_text() for p in FORMULAS.glob("*.inc")}
    assert committed == formula_files(), (
        "run `python -m landscapes.reproduce goodfellow2015 --figures 9 --docs "
        "docs/reproductions/goodfellow2015` and commit the result")
