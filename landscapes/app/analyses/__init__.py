"""The analysis registry: one file per analysis, one line each below.

Every module named in :data:`REGISTRY` defines ``ANALYSIS``, an instance of
:class:`~landscapes.app.analyses.base.Analysis`: how to build its path from a system's
replicates, its closed form where theory has one, its summary-table rows and its figure
panel. ``compare``, ``reproduce`` and the analysis cache all go through
:func:`get_analysis`, so a new analysis is one new file plus one line here.

An analysis declares what the rest of the app reads off it, never by its name: its own
knobs (``Settings``, a frozen dataclass whose fields become ``--flags`` and enter its
cache key), the shared budget fields it ``reads``, whether it ``has_closed_form`` (the
agreement test then holds the engine to it), what it ``needs`` trained besides the
system's runs (:data:`ZOO_ANALYSES` is derived from it), and its points and ``cost``
per point (:meth:`~landscapes.app.analyses.base.Analysis.count_points`, which the time
projection sums). Its methods that take the budget see only what it declared.

Examples
--------
>>> get_analysis("final_to_final").min_replicates
2
>>> get_analysis("final_to_fianl")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
ValueError: unknown analysis 'final_to_fianl' (did you mean 'final_to_final'?); choose from [...]
"""

from __future__ import annotations

import importlib

from landscapes.app.analyses.base import Analysis, Declined
from landscapes.names import unknown_name

__all__ = ["REGISTRY", "ANALYSES", "ZOO_ANALYSES", "EXTENSIONS", "SHARED", "get_analysis", "describe_analyses", "Analysis", "Declined"]

#: Analysis name -> module under landscapes.app.analyses, in the order tables list them.
REGISTRY: dict[str, str] = {
    "init_to_final": "init_to_final",
    "zoom": "zoom",
    "zoom_init": "zoom_init",
    "zoom_final": "zoom_final",
    "final_to_final": "final_to_final",
    "random_to_final": "random_to_final",
    "from_iteration": "from_iteration",
    "trajectory": "trajectory",
    "learning_curve": "learning_curve",
    "optimizers": "optimizers",
    "basin": "basin",
    "surfaces": "surfaces",
    "switching": "switching",
    "batchnorm": "batchnorm",
    "curvature": "curvature",
    "sharpness": "sharpness",
    "eigenplane": "eigenplane",
    "aligned": "aligned",
    "aligned_optimizers": "aligned_optimizers",
    "curve": "curve",
    "instability": "instability",
}

#: Modules of this folder that hold shared machinery rather than an analysis.
SHARED: tuple[str, ...] = ("base", "line", "zoo")


def get_analysis(name: str) -> Analysis:
    """The registered analysis ``name``, with the closest match in the error."""
    if name not in REGISTRY:
        raise unknown_name("analysis", name, REGISTRY)
    module = importlib.import_module(f"landscapes.app.analyses.{REGISTRY[name]}")
    return module.ANALYSIS


#: Analyses that train runs besides a system's own (each declares it: its ``needs``): the
#: optimizer zoo of Im et al. (2016), its switches and batch-norm twins -- tens of runs
#: per system.
ZOO_ANALYSES: tuple[str, ...] = tuple(name for name in REGISTRY
                                      if get_analysis(name).needs.variants)
#: Analyses beyond the papers' own (each declares ``extension``): run when named.
EXTENSIONS: tuple[str, ...] = tuple(name for name in REGISTRY if get_analysis(name).extension)
#: The analyses of the compare command by default, in order: every registered one of the
#: papers' that reads only the system's own runs.
ANALYSES: tuple[str, ...] = tuple(name for name in REGISTRY
                                  if name not in ZOO_ANALYSES and name not in EXTENSIONS)


def describe_analyses() -> list[tuple[str, str]]:
    """(name, one line) of every registered analysis."""
    return [(name, get_analysis(name).description) for name in REGISTRY]
