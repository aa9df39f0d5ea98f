"""What a paper reproduction is: its budgets, its figures and its claims.

A :class:`Paper` lists the paper's figures (:class:`Figure`): which (system, analysis)
results each needs -- computed by one :class:`~landscapes.app.study.Study` through the
analysis cache -- or what closed-form data it computes itself, and how to draw it. A
figure whose data is not on this machine (CIFAR-10, PTB) or whose model the package
does not have is listed with the reason and the command that would run it. Each
:class:`Claim` quotes the paper briefly, measures the same quantity on our results and
gives a verdict: ``reproduced``, ``differs`` (with the numbers, never bent toward the
paper), ``shown`` (a figure with no quantitative claim), or ``cannot run here``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import xarray as xr

from landscapes.app.settings import Budget

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure as MplFigure

    from landscapes.app.study import Study

__all__ = ["Paper", "Figure", "Claim", "Outcome", "VERDICTS", "DATASET_NAMES"]

#: The verdicts a finding can have.
VERDICTS = ("reproduced", "differs", "shown", "cannot run here")
#: How a missing dataset is named to the user.
DATASET_NAMES = {"cifar10": "CIFAR-10", "ptb": "Penn Treebank", "imagenet": "ImageNet",
                 "mnist": "MNIST", "fashion_mnist": "Fashion-MNIST"}


@dataclass
class Outcome:
    """What figures and claims read: the study's results and the figures' own data."""

    study: Study
    budget: Budget
    extra: dict[str, xr.Dataset] = field(default_factory=dict)

    def ds(self, system: str, analysis: str) -> xr.Dataset:
        """One system's result of one analysis (no ``system`` dimension)."""
        part = self.study.parts.get(analysis, {}).get(system)
        if not isinstance(part, xr.Dataset):
            raise KeyError(f"{analysis} of {system} was not computed")
        return part

    def has(self, system: str, analysis: str) -> bool:
        return isinstance(self.study.parts.get(analysis, {}).get(system), xr.Dataset)


@dataclass(frozen=True)
class Figure:
    """One figure of a paper.

    Attributes
    ----------
    id : str
        The paper's number (``"4"``); the files are ``figure<id>.png`` and ``.pdf``.
    title : str
    needs : tuple of (system, analysis)
        Results computed by the study.
    draw : callable
        ``draw(outcome) -> matplotlib Figure``.
    compute : callable, optional
        ``compute(budget) -> {name: Dataset}``: closed-form data the figure makes itself
        (random walks, a quadratic); stored in the netCDF tree under ``figure<id>/``.
    requires : tuple of str
        Datasets that must be on disk (``"cifar10"``).
    missing : str
        Why the figure cannot be made here whatever the data (a model the package does
        not have); empty when it can.
    command : str
        What to run once the data is there (shown when it is not).
    budgets : tuple of str, optional
        The budgets that make this figure (default: every one): a figure of costly
        systems (conv nets) can have a CPU budget of its own.
    on_request : bool
        Made only when ``--figures`` names it: an extension that costs more than the
        paper's own figures (curvature), so a plain reproduction stays as it was.
    """

    id: str
    title: str
    draw: Callable[[Outcome], MplFigure] | None = None
    needs: tuple[tuple[str, str], ...] = ()
    compute: Callable[[Budget], Mapping[str, xr.Dataset]] | None = None
    requires: tuple[str, ...] = ()
    missing: str = ""
    command: str = ""
    budgets: tuple[str, ...] | None = None
    on_request: bool = False

    @property
    def file(self) -> str:
        return f"figure{self.id}"


@dataclass(frozen=True)
class Claim:
    """One claim of the paper, checked on our results.

    ``judge(outcome)`` returns ``(measured, verdict)``; it runs only when every figure
    in ``figures`` could be made and every system in ``systems`` was computed, else the
    verdict is "cannot run here" with the reason. ``needs`` are the (system, analysis)
    results the judge reads besides its figures' own: the study computes them whenever
    the claim's figures are selected. An ``extension`` is a question the paper did not
    ask, answered on its systems (its ``quote`` states the question); the findings mark
    it so and list it after the paper's own claims, never mixed with them.
    """

    figures: tuple[str, ...]
    quote: str
    judge: Callable[[Outcome], tuple[str, str]]
    systems: tuple[str, ...] = ()
    needs: tuple[tuple[str, str], ...] = ()
    extension: bool = False


@dataclass(frozen=True)
class Paper:
    """A paper to reproduce: name, citation, budgets, figures and claims."""

    name: str
    citation: str
    budgets: Mapping[str, Budget]
    figures: tuple[Figure, ...]
    claims: tuple[Claim, ...]
    notes: str = ""

    def figure(self, figure_id: str) -> Figure:
        for f in self.figures:
            if f.id == figure_id:
                return f
        from landscapes.names import unknown_name

        raise unknown_name(f"figure of {self.name}", figure_id, [f.id for f in self.figures])
