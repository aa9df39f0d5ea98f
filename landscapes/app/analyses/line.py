"""A straight line between two anchors of each replicate: the shape most analyses share.

θ(α) = (1 − α)·θ_a + α·θ_b (Goodfellow et al. 2015, §2), for θ_a, θ_b two of the
anchors a system's replicates offer (``init``, ``final``, ``other_final``, ``random``),
over a window of α. Its closed form is the :mod:`theory.deep_linear` function of the
same name, on the same grid.
"""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from landscapes import grids
from landscapes.app.analyses.base import Analysis, Context, Replicates, at_least, knob

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

    from landscapes.app.analyses.base import SettingsView
    from landscapes.paths import Path

__all__ = ["Line", "LineSettings", "AdaptiveSettings", "BarrierSettings", "ZoomSettings", "adaptive_barrier", "with_adaptive", "searched",
           "search_lines",
           "adaptive_points", "normalised", "test_split", "training_split"]


@dataclass(frozen=True)
class LineSettings:
    """The α resolution of a line over its whole window."""

    points: int = knob(100, "alpha points of every line (init->final, final->final, "
                            "random->final, from iteration t)", "N")

    def __post_init__(self) -> None:
        at_least("points", self.points, 3)


@dataclass(frozen=True)
class ZoomSettings:
    """The α resolution of a zoom window."""

    zoom_points: int = knob(200, "alpha points of each high-resolution zoom window", "N")

    def __post_init__(self) -> None:
        at_least("zoom_points", self.zoom_points, 3)


class Line(Analysis):
    """A line from anchor ``start`` to anchor ``end`` of every replicate.

    Attributes
    ----------
    start, end : str
        Anchor names, methods of :class:`~landscapes.app.analyses.base.Replicates`.
    window : tuple of float
        The α range evaluated.
    grid_size : str
        The field of its ``Settings`` giving its number of points.
    theory : str
        The :mod:`theory.deep_linear` function computing the same line exactly.
    """

    start: str = "init"
    end: str = "final"
    window: tuple[float, float] = (0.0, 1.0)
    grid_size: str = "points"
    theory: str = "init_to_final"
    Settings = LineSettings
    has_closed_form = True

    def grid(self, budget: SettingsView) -> np.ndarray:
        """The α values: ``grid_size`` evenly spaced on the window, plus 0 and 1."""
        return grids.line(getattr(budget, self.grid_size), *self.window)

    def path(self, reps: Replicates, r: int, budget: SettingsView) -> Path:
        from landscapes import paths

        a, b = getattr(reps, self.start)(r), getattr(reps, self.end)(r)
        return paths.linear(a, b, self.grid(budget), names=(self.start, self.end))

    def closed_form(self, system: Any, budget: SettingsView) -> xr.Dataset:
        from theory import deep_linear

        kwargs: dict[str, Any] = dict(system=system.name, n_replicates=budget.replicates,
                                      seed=budget.seed, alphas=self.grid(budget))
        if "random" in (self.start, self.end):
            kwargs["random_scale"] = budget.random_scale
        return getattr(deep_linear, self.theory)(**kwargs)

    def panel(self, ax: Axes, ds: xr.Dataset, context: Context) -> None:
        curves = normalised(ds, context.reference)
        for system in curves.system.values:
            colour = (context.colors or {}).get(str(system))
            sub = curves.sel(system=system).dropna("alpha", how="all")
            mean = sub.mean("replicate")
            spread = sub.std("replicate")
            ax.plot(sub.alpha, mean, color=colour, label=str(system))
            ax.fill_between(sub.alpha, mean - spread, mean + spread, color=colour, alpha=0.2,
                            lw=0)
        low, high = self.window
        for edge in (0.0, 1.0):
            if low <= edge <= high:
                ax.axvline(edge, color="0.8", lw=0.8, zorder=0)
        ax.set_xlabel("α")
        ax.set_ylabel("(J − J_final) / (J_init − J_final)")


def test_split(ds: xr.Dataset) -> xr.Dataset:
    """The test split (the one the papers plot), or the only one."""
    return _split(ds, "test")


def training_split(ds: xr.Dataset) -> xr.Dataset:
    """The training split (the objective a Hessian is of), or the first one."""
    return _split(ds, "train")


def _split(ds: xr.Dataset, name: str) -> xr.Dataset:
    if "split" in ds.dims:
        return ds.sel(split=name) if name in ds.split.values else ds.isel(split=0)
    return ds


def normalised(ds: xr.Dataset, reference: xr.Dataset | None) -> xr.DataArray:
    """Test loss as (J − J_final)/(J_init − J_final), per system and replicate.

    J_init and J_final are each replicate's losses at α = 0 and α = 1 of ``reference``
    (the same systems' init→final), so every panel shares one scale per run and
    final→final, whose ends are both solutions, does not divide by a near-zero drop.
    Without a reference the line's own α = 0 and α = 1 values are used.
    """
    base = test_split(reference if reference is not None else ds).loss
    j0 = base.sel(alpha=0.0, method="nearest", drop=True)
    j1 = base.sel(alpha=1.0, method="nearest", drop=True)
    out = (test_split(ds).loss - j1) / (j0 - j1)
    out.attrs["long_name"] = "(J − J_final) / (J_init − J_final)"
    return out


# --------------------------------------------------------------------------- adaptive α


@dataclass(frozen=True)
class AdaptiveSettings:
    """Whether a barrier comes from the adaptive α search.

    ``barrier_tol`` off (``None``) reads the barrier off the uniform grid; a number runs
    :func:`landscapes.refine.refine` on [0, 1] of every line to that tolerance (relative
    to the line's own spread of loss), spending at most ``barrier_evaluations`` points
    besides the uniform grid, which is kept for the curves the figures draw.
    """

    barrier_tol: float | None = knob(None, "adaptive alpha search for every barrier, to this "
                                           "tolerance relative to the line's loss spread "
                                           "(default: off, the uniform grid's maximum)", "TOL")
    barrier_evaluations: int = knob(30, "most points the adaptive barrier search spends per "
                                        "line and split", "N")

    def __post_init__(self) -> None:
        at_least("barrier_evaluations", self.barrier_evaluations, 3)
        if self.barrier_tol is not None and not (0 < self.barrier_tol < 1):
            raise ValueError(f"barrier_tol must be in (0, 1) or None, got {self.barrier_tol!r}")


@dataclass(frozen=True)
class BarrierSettings(AdaptiveSettings, LineSettings):
    """A line's α resolution, and whether its barrier comes from the adaptive α search
    (:class:`AdaptiveSettings`)."""

    def __post_init__(self) -> None:
        LineSettings.__post_init__(self)
        AdaptiveSettings.__post_init__(self)


#: The barriers :func:`adaptive_barrier` searches for.
ADAPTIVE_KINDS = ("rise", "linear")
#: Points of the adaptive search's first, uniform grid (:func:`landscapes.refine.refine`).
COARSE = 11


def adaptive_points(budget: SettingsView, searches: int = 1, seeded: bool = False) -> int:
    """The most points the adaptive barrier search spends on one line (0 when off).

    ``searches`` is the number of searches on the line (kinds × splits); they share
    the first, uniform grid of :data:`COARSE` points, evaluated once -- or, ``seeded``
    (:func:`with_adaptive`), start from the line's uniform grid, which costs them
    nothing, and each spends up to ``barrier_evaluations`` new points. The time
    projection prices a search at its budget, not its typical early stop.
    """
    if getattr(budget, "barrier_tol", None) is None:
        return 0
    most = int(budget.barrier_evaluations)
    if seeded:
        return searches * most
    coarse = min(COARSE, most)
    return coarse + searches * (most - coarse)


def adaptive_barrier(curve: Any, kinds: str | Sequence[str], *, tol: float,
                     max_evaluations: int, splits: Sequence[str] | None = None,
                     lo: float = 0.0, hi: float = 1.0,
                     known: xr.DataArray | None = None) -> xr.Dataset:
    """The barrier of one line from the adaptive α search, split by split and kind by kind.

    Each (kind, split) is one :func:`landscapes.refine.refine`; a point once evaluated
    is not evaluated again (the searches share their first grid, and one evaluation
    gives every split).

    Parameters
    ----------
    curve : callable
        ``curve(alpha)``, a 1-D array of α, returns the loss there as a DataArray with
        dim ``alpha`` and optionally ``split`` (what :func:`landscapes.evaluate` and the
        :mod:`theory.deep_linear` lines give for one line).
    kinds : {"rise", "linear"} or a sequence of them
        Frankle's rise barrier, the chord excess (:mod:`landscapes.refine`).
    tol : float
        Height tolerance relative to each curve's loss spread on the first grid.
    max_evaluations : int
        Most points per search.
    splits : sequence of str, optional
        The splits of the curve, each searched on its own (``None``: a curve without
        a ``split`` dim).
    lo, hi : float
        The segment searched.
    known : xarray.DataArray, optional
        The loss of this curve already evaluated on a grid (dim ``alpha``, and
        ``split`` as the curve's), e.g. the uniform grid a figure draws: the searches
        start from it instead of their own first grid and evaluate only the points it
        leaves open (``max_evaluations`` then counts new points).

    Returns
    -------
    xarray.Dataset
        Per kind: ``<kind>_adaptive`` (the height), ``<kind>_adaptive_alpha`` (its α,
        NaN for no barrier), ``<kind>_adaptive_evaluations`` (points that search used)
        ``<kind>_adaptive_tolerance`` (its absolute tolerance) and
        ``<kind>_adaptive_converged`` (False: the budget ran out first), with the curve's
        ``split`` dim when it has one; ``adaptive_evaluations``: distinct points
        evaluated on the line in all.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> bump = lambda a: xr.DataArray(4 * a * (1 - a), dims="alpha", coords={"alpha": a})
    >>> out = adaptive_barrier(bump, "rise", tol=1e-4, max_evaluations=30)
    >>> round(float(out.rise_adaptive), 3), int(out.rise_adaptive_evaluations) <= 30
    (1.0, True)

    From a 101-point grid already evaluated, the search adds few points:

    >>> grid = bump(np.linspace(0, 1, 101))
    >>> out = adaptive_barrier(bump, "rise", tol=1e-4, max_evaluations=30, known=grid)
    >>> round(float(out.rise_adaptive), 3), int(out.adaptive_evaluations) < 11
    (1.0, True)
    """
    from landscapes.refine import refine

    kinds = (kinds,) if isinstance(kinds, str) else tuple(kinds)
    for kind in kinds:
        if kind not in ADAPTIVE_KINDS:
            raise ValueError(f"kind must be one of {list(ADAPTIVE_KINDS)!r}, got {kind!r}")
    seen: dict[float, xr.DataArray] = {}
    if known is not None:
        for i, a in enumerate(np.asarray(known.alpha.values, dtype=float)):
            seen[float(a)] = known.isel(alpha=i, drop=True)
    given = len(seen)

    def values(alpha: np.ndarray, split: Any) -> np.ndarray:
        new = np.array([a for a in np.asarray(alpha, dtype=float) if float(a) not in seen])
        if new.size:
            loss = curve(new)
            for i, a in enumerate(new):
                seen[float(a)] = loss.isel(alpha=i, drop=True)
        at = [seen[float(a)] for a in alpha]
        return np.array([float(v.sel(split=split) if split is not None else v) for v in at])

    names = [None] if splits is None else list(splits)
    per_kind = []
    for kind in kinds:
        found = []
        for split in names:
            start = None
            if known is not None:
                grid = np.array(sorted(a for a in seen if lo <= a <= hi))
                if grid.size >= 3 and grid[0] == lo and grid[-1] == hi:
                    start = (grid, values(grid, split))
            r = refine(lambda a, s=split: values(a, s), kind=kind, lo=lo, hi=hi, tol=tol,
                       coarse=min(COARSE, max_evaluations), per_round=10,
                       max_evaluations=max_evaluations, known=start)
            found.append(xr.Dataset({f"{kind}_adaptive": r.height,
                                     f"{kind}_adaptive_alpha": r.location,
                                     f"{kind}_adaptive_evaluations": r.evaluations,
                                     f"{kind}_adaptive_tolerance": r.tolerance,
                                     f"{kind}_adaptive_converged": r.converged}))
        per_kind.append(found[0] if splits is None else xr.concat(
            found, dim=xr.DataArray(names, dims="split", name="split")))
    out = xr.merge(per_kind)
    out["adaptive_evaluations"] = len(seen) - given
    return out


def with_adaptive(ds: xr.Dataset, curve_for: Any, kinds: str | Sequence[str],
                  budget: SettingsView, line_dim: str | None = None) -> xr.Dataset:
    """``ds`` (lines stacked on ``replicate``) with :func:`adaptive_barrier` of each line.

    ``curve_for(r)`` is replicate ``r``'s ``curve``, or with ``line_dim`` (e.g.
    ``"start_iteration"``) a mapping from that dim's values to the curves of its lines.
    ``ds`` is returned unchanged when ``barrier_tol`` is off; else the uniform grid
    stays (for the figures' curves) and the searches' variables are added, their
    attributes naming ``barrier_tol`` and ``barrier_evaluations``. Each search starts
    from its line's uniform grid (``known`` of :func:`adaptive_barrier`), so the
    points it adds are only those the grid leaves the barrier open at; price them
    with ``adaptive_points(..., seeded=True)``.
    """
    tol = getattr(budget, "barrier_tol", None)
    if tol is None:
        return ds
    loss = ds["loss"]
    splits = list(loss.split.values) if "split" in loss.dims else None

    def search(curve: Any, grid: xr.DataArray) -> xr.DataArray:
        # The uniform grid is the same curve's points: the search starts from them.
        known = grid if np.isfinite(grid.values).all() else None
        return adaptive_barrier(curve, kinds, tol=tol, splits=splits,
                                max_evaluations=budget.barrier_evaluations, known=known)

    parts = []
    for i in range(ds.sizes["replicate"]):
        curves = curve_for(i)
        line = loss.isel(replicate=i, drop=True)
        if line_dim is None:
            parts.append(search(curves, line))
        else:
            keys = list(curves)
            parts.append(xr.concat([search(curves[k], line.sel({line_dim: k}, drop=True))
                                    for k in keys],
                                   dim=xr.DataArray(keys, dims=line_dim, name=line_dim)))
    found = xr.concat(parts, dim="replicate", join="outer")
    if "replicate" in ds.coords:
        found = found.assign_coords(replicate=ds.replicate.values)
    for name in found.data_vars:
        found[name].attrs.update(barrier_tol=float(tol),
                                 barrier_evaluations=int(budget.barrier_evaluations))
    return ds.merge(found, join="left")


def searched(ds: xr.Dataset, kind: str, split: str | None,
             fallback: xr.DataArray | None) -> xr.DataArray | None:
    """The adaptive search's ``kind`` barrier of ``split`` where ``ds`` has one, else ``fallback``.

    ``fallback`` is the same barrier read off the uniform grid; rows and panels call
    this so that the number comes from the search wherever it ran.
    """
    name = f"{kind}_adaptive"
    if name not in ds.data_vars:
        return fallback
    found = ds[name]
    if split is not None and "split" in found.dims:
        # As the grid's readers do: a missing split falls back to the first.
        found = (found.sel(split=split, drop=True) if split in found.split.values
                 else found.isel(split=0, drop=True))
    return found


def search_lines(curves: Any, dims: Sequence[str], kinds: str | Sequence[str],
                 budget: SettingsView, splits: Sequence[str] | None = None) -> xr.Dataset | None:
    """:func:`adaptive_barrier` of many lines of one replicate, on named dimensions.

    ``curves`` maps a key (a tuple of labels, one per name of ``dims``, e.g.
    ``("adam", "sgd")`` for ``("optimizer_a", "optimizer_b")``) to that line's curve.
    Returns ``None`` when ``barrier_tol`` is off or there are no lines; else a dataset
    on ``dims`` (merge it into the replicate's with ``join="left"``: lines never
    searched, a pair's lower triangle, stay NaN).
    """
    import pandas as pd

    tol = getattr(budget, "barrier_tol", None)
    if tol is None or not curves:
        return None
    keys = list(curves)
    found = xr.concat([adaptive_barrier(curves[k], kinds, tol=tol, splits=splits,
                                        max_evaluations=budget.barrier_evaluations)
                       for k in keys], dim="line")
    index = pd.MultiIndex.from_tuples(keys, names=list(dims))
    found = found.assign_coords(xr.Coordinates.from_pandas_multiindex(index, "line"))
    found = found.unstack("line")
    for name in found.data_vars:
        found[name].attrs.update(barrier_tol=float(tol),
                                 barrier_evaluations=int(budget.barrier_evaluations))
    return found
