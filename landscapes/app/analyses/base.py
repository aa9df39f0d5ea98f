"""What an analysis is: a path per replicate, its closed form, its table rows and its panel.

An analysis never asks whether a system is theory or a trained network. A system hands
it :class:`Replicates` -- the anchors of each replicate (init, final, another final, a
random point, checkpoints) and a way to evaluate a path -- and the analysis builds its
path from them; the same definition therefore runs on a trained LeNet and on the torch
twin of a closed-form deep linear network, which is what the agreement test checks.
Systems with a closed form call :meth:`Analysis.closed_form` instead; one that has none
raises :class:`Declined` and the table shows "n/a".
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import xarray as xr


if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

    from landscapes.anchors import Anchor
    from landscapes.app.settings import Budget
    from landscapes.paths import Path

__all__ = ["Analysis", "Declined", "Replicates", "Context", "mean_std", "share", "per_split",
           "cells", "COMMON"]

#: Budget fields every analysis depends on.
COMMON = ("replicates", "seed")


class Declined(Exception):
    """A system has no counterpart of an analysis; its table cells read "n/a (why)"."""


class Replicates(Protocol):
    """The anchors of one system's replicates under one budget, and how to evaluate a path.

    Trained networks read them from the run store; closed-form systems compute them
    (:func:`theory.deep_linear.anchors`) and evaluate with their torch twin.
    """

    system: str
    count: int

    def init(self, r: int) -> Anchor:
        """θ at iteration 0 of replicate ``r``."""

    def final(self, r: int) -> Anchor:
        """θ at the end of training (the solution)."""

    def other_final(self, r: int) -> Anchor:
        """Another replicate's solution (an independent init and data order)."""

    def random(self, r: int) -> Anchor:
        """A random point of large norm (the budget's ``random_scale``)."""

    def starts(self, r: int) -> dict[int, Anchor]:
        """θ_t at the start iterations t the budget's ``max_starts`` picks."""

    def trajectory(self, r: int) -> tuple[list[int], Any]:
        """Iterations and a lazy sequence of θ at each, in training order."""

    def evaluate(self, path: Path, analysis: str, r: int, **options: Any) -> xr.Dataset:
        """Loss (and error) at every point of ``path``, in the results schema; ``options``
        go to :func:`landscapes.evaluate` (``reference=``, ``divergence=``)."""

    def label(self, parts: list[xr.Dataset]) -> xr.Dataset:
        """Stack per-replicate results along ``replicate`` with their provenance."""


@dataclass(frozen=True)
class Context:
    """What a table row or a panel may read besides its own dataset.

    Attributes
    ----------
    reference : xarray.Dataset or None
        The same system's init→final result (loss scale J_init − J_final), if computed.
    colors : dict of str to str
        Matplotlib colour of each system.
    """

    reference: xr.Dataset | None = None
    colors: Mapping[str, str] | None = None


class Analysis:
    """One analysis: subclass it in one file and add one line to the registry.

    Attributes
    ----------
    name, title, description : str
        Registry key, figure title, and the one line ``--list`` shows.
    uses : tuple of str
        :class:`~landscapes.app.settings.Budget` fields its results depend on (besides
        the system's own); they, and only they, enter its cache key.
    min_replicates : int
        Replicates it needs (final→final pairs two).
    ragged : bool
        Whether systems differ in a coordinate other than the path's (start iterations,
        trajectory steps), so stacking them outer-joins with NaN.
    """

    name: str = ""
    title: str = ""
    description: str = ""
    uses: tuple[str, ...] = ()
    min_replicates: int = 1
    ragged: bool = False
    #: Barrier measures (``"rise"``, ``"linear"``, ``"bump"``) whose bootstrap interval
    #: over the examples the analysis keeps when a budget evaluates a subset of each
    #: split (``eval_examples``): ``<kind>_interval`` beside the curves
    #: (:func:`with_intervals`). Empty: none.
    intervals: tuple[str, ...] = ()

    # ------------------------------------------------------------------ computing
    def path(self, reps: Replicates, r: int, budget: Budget) -> Path:
        """The points of replicate ``r``; path analyses override this."""
        raise NotImplementedError(f"{self.name} has no path")

    def measure(self, reps: Replicates, budget: Budget) -> xr.Dataset:
        """Evaluate :meth:`path` for every replicate and stack them along ``replicate``.

        On a cluster the replicates are evaluated side by side
        (:func:`landscapes.app.executor.for_each`).
        """
        from landscapes.app.executor import for_each

        # A subset of the data is a sample: its barriers get an interval (networks only;
        # a closed form's objective is exact).
        subset = (bool(self.intervals) and budget.eval_examples is not None
                  and getattr(reps, "dataset", None) is not None)

        def one(r: int) -> xr.Dataset:
            path = self.path(reps, r, budget)
            if not subset:
                return reps.evaluate(path, self.name, r)
            ds = reps.evaluate(path, self.name, r, per_example=True)
            return with_intervals(ds, self.intervals, seed=budget.seed)

        return reps.label(for_each(reps, one, range(reps.count)))

    def closed_form(self, system: Any, budget: Budget) -> xr.Dataset:
        """The exact counterpart for a closed-form ``system``; default: none."""
        raise Declined(f"no closed form of {self.name}")

    def variants(self, config: Any, total: int, budget: Budget) -> list[dict[str, Any]]:
        """Config changes of the runs this analysis trains besides the system's own.

        The optimizer zoo, switched runs, a twin without batch norm: each entry is
        applied to the system's training ``config`` (whose runs have ``total``
        iterations) by :meth:`NetworkReplicates.variant`. Their weights enter the cache
        key, and the time projection counts their training. Default: none.
        """
        return []

    # ------------------------------------------------------------------ reporting
    def rows(self, ds: xr.Dataset, context: Context) -> dict[str, str]:
        """Rows of the summary table for one system (no ``system`` dimension)."""
        return {}

    def panel(self, ax: Axes, ds: xr.Dataset, context: Context) -> None:
        """Draw this analysis of every system in ``ds`` (a ``system`` dimension)."""
        raise NotImplementedError(f"{self.name} has no panel")


# --------------------------------------------------------------------------- intervals

#: Coverage and resamples of the bootstrap intervals of barriers from a data subset.
LEVEL, RESAMPLES = 0.95, 1000


def with_intervals(ds: xr.Dataset, kinds: tuple[str, ...], seed: int = 0) -> xr.Dataset:
    """``ds`` with a bootstrap interval of each barrier in ``kinds``, per line, over [0, 1].

    The curves came from a subset of each split's examples (``loss_per_example``, which
    is dropped): resampling the examples gives the spread another subset of the same
    size would show (:func:`landscapes.refine.bootstrap_intervals`). Each interval is a
    variable ``<kind>_interval`` with a ``bound`` dimension (``low``, ``high``).
    """
    from landscapes.refine import bootstrap_intervals

    each = ds["loss_per_example"].sel(alpha=slice(0.0, 1.0))
    out = ds.drop_vars("loss_per_example")
    # One draw of resampled curves serves every kind.
    found = bootstrap_intervals(each, kinds, level=LEVEL, resamples=RESAMPLES, seed=seed)
    for kind in kinds:
        out[f"{kind}_interval"] = found[kind]
        out[f"{kind}_interval"].attrs.update(
            long_name=f"{LEVEL:.0%} bootstrap interval of the {kind} barrier on [0, 1] over "
                      f"the examples ({RESAMPLES} resamples)")
    return out


def interval_note(ds: xr.Dataset, kind: str, split: str | None, at: dict[str, Any]) -> str:
    """`` (subset: 95% CI ±w)`` for the line ``at`` picks, or "" without an interval.

    w is the largest half-width over replicates: how far another subset of the same
    size could move the barrier of that line.
    """
    name = f"{kind}_interval"
    if name not in ds.data_vars:
        return ""
    iv = ds[name]
    if split is not None and "split" in iv.dims:
        iv = iv.sel(split=split)
    iv = iv.sel({k: v for k, v in at.items() if k in iv.dims})
    half = (iv.sel(bound="high") - iv.sel(bound="low")) / 2
    if not np.isfinite(half).any():
        return ""
    return f" (subset: {LEVEL:.0%} CI ±{float(half.max()):.2g})"


# --------------------------------------------------------------------------- formatting


def mean_std(values: Any, fmt: str = ".3g") -> str:
    """``mean ± std`` over replicates (NaNs ignored), or the value when there is one.

    Examples
    --------
    >>> mean_std([1.0, 2.0, 3.0]), mean_std([0.5])
    ('2 ± 0.82', '0.5')
    """
    v = np.asarray(values, dtype=float).ravel()
    finite = v[np.isfinite(v)]
    if finite.size == 0:
        return "nan" if v.size else "–"
    if v.size == 1:
        return f"{finite[0]:{fmt}}"
    return f"{finite.mean():{fmt}} ± {finite.std():.2g}"


def share(flags: Any) -> str:
    """``yes (k/n)``, ``no (0/n)`` or ``mixed (k/n)`` over replicates.

    Examples
    --------
    >>> share([True, True]), share([True, False])
    ('yes (2/2)', 'mixed (1/2)')
    """
    v = np.asarray(flags, dtype=bool).ravel()
    word = "yes" if v.all() else "no" if not v.any() else "mixed"
    return f"{word} ({int(v.sum())}/{v.size})"


def per_split(ds: xr.Dataset | xr.DataArray) -> Iterator[tuple[str | None, Any]]:
    """Each split of ``ds`` with its name, or ``(None, ds)`` when it has none (theory)."""
    if "split" not in ds.dims:
        yield None, ds
        return
    for split in ds.split.values:
        yield str(split), ds.sel(split=split)


def cells(parts: list[tuple[str | None, str]]) -> str:
    """Join per-split cells in split order: ``yes (3/3) | no (0/3)``.

    The table's ``splits`` row says which split each part is; a closed form has one.
    """
    return " | ".join(text for _, text in parts)


