"""The tutorial notebook (docs/tutorial.md) runs from top to bottom.

The docs build executes it with myst-nb; this runs the same code cells, in order, in one
namespace, so the test suite catches a broken tutorial without Sphinx or a kernel.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

TUTORIAL = Path(__file__).resolve().parents[2] / "docs" / "tutorial.md"
# A MyST code cell: ```{code-cell} python ... ``` at the start of a line.
CELL = re.compile(r"^```\{code-cell\}[^\n]*\n(.*?)^```\s*$", re.MULTILINE | re.DOTALL)


def code_cells(text: str) -> list[str]:
    """The source of every code cell, IPython magics (``%...`` lines) left out."""
    cells = []
    for body in CELL.findall(text):
        # Cell options (":tags: ...") and magics are notebook-only.
        lines = [ln for ln in body.splitlines() if not ln.lstrip().startswith(("%", ":"))]
        cells.append("\n".join(lines))
    return cells


def test_the_parser_finds_every_cell() -> None:
    text = TUTORIAL.read_text()
    assert len(code_cells(text)) == text.count("```{code-cell}") > 0


def test_tutorial_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("transformers", reason="the tutorial's last part needs transformers "
                        "(pip install -e '.[test]')")
    import matplotlib.pyplot as plt

    monkeypatch.chdir(tmp_path)
    namespace: dict[str, Any] = {"__name__": "tutorial"}
    try:
        for i, source in enumerate(code_cells(TUTORIAL.read_text()), start=1):
            exec(compile(source, f"{TUTORIAL.name}, cell {i}", "exec"), namespace)  # noqa: S102
    finally:
        plt.close("all")
    # What the prose says of the results: the line has both splits, the tie survives.
    import torch

    assert list(namespace["line"].split.values) == ["train", "test"]
    point = namespace["point"]
    assert torch.equal(point["lm_head.weight"], point["transformer.wte.weight"])
