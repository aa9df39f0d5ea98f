"""The paper registry: one file per paper, one line each below.

Each module named in :data:`REGISTRY` defines ``PAPER``, a
:class:`~landscapes.app.papers.base.Paper`: its budgets, figures and claims.
``python -m landscapes.reproduce PAPER`` runs one (:mod:`landscapes.app.reproduce`).

Examples
--------
>>> get_paper("frankle2020").figure("3").title
'maximum increase of loss and error vs t'
>>> get_paper("frankle20")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
ValueError: unknown paper 'frankle20' (did you mean 'frankle2020'?); choose from [...]
"""

from __future__ import annotations

import importlib

from landscapes.app.papers.base import Claim, Figure, Outcome, Paper
from landscapes.names import unknown_name

__all__ = ["REGISTRY", "get_paper", "Paper", "Figure", "Claim", "Outcome"]

#: Paper name -> module under landscapes.app.papers.
REGISTRY: dict[str, str] = {
    "goodfellow2015": "goodfellow2015",
    "frankle2020": "frankle2020",
    "im2016": "im2016",
}


def get_paper(name: str) -> Paper:
    """The registered paper ``name``, with the closest match in the error."""
    if name not in REGISTRY:
        raise unknown_name("paper", name, REGISTRY)
    return importlib.import_module(f"landscapes.app.papers.{REGISTRY[name]}").PAPER
