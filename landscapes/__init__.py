"""landscapes: neural-network loss landscapes on low-dimensional slices of parameter space.

The core is torch-free at import time so that :mod:`theory` can use the results
schema, metrics and plots without PyTorch; :func:`evaluate` and :mod:`landscapes.paths`
load torch when first touched.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from landscapes import results
from landscapes.results import load, load_tree, save
from landscapes import accessor  # noqa: E402,F401  registers ds.landscape (torch-free)

__all__ = ["evaluate", "paths", "results", "metrics", "trajectory", "plots", "save", "load",
           "load_tree", "__version__"]

__version__ = results._version()

# Modules that need torch (or are heavy) load on first attribute access.
_LAZY_MODULES = {"paths", "metrics", "trajectory", "plots", "engine", "directions", "accessor",
                 "curvature"}

if TYPE_CHECKING:  # pragma: no cover
    from landscapes import metrics, paths, plots, trajectory
    from landscapes.engine import evaluate


def __getattr__(name: str) -> Any:
    if name == "evaluate":
        from landscapes.engine import evaluate

        return evaluate
    if name in _LAZY_MODULES:
        return importlib.import_module(f"landscapes.{name}")
    raise AttributeError(f"module 'landscapes' has no attribute {name!r}")
