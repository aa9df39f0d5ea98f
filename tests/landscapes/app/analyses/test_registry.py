"""The analysis registry is the tree: every analysis file is registered, and nothing else."""

from __future__ import annotations

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
