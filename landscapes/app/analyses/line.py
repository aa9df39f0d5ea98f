"""A straight line between two anchors of each replicate: the shape most analyses share.

θ(α) = (1 − α)·θ_a + α·θ_b (Goodfellow et al. 2015, §2), for θ_a, θ_b two of the
anchors a system's replicates offer (``init``, ``final``, ``other_final``, ``random``),
over a window of α. Its closed form is the :mod:`theory.deep_linear` function of the
same name, on the same grid.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from landscapes import grids
from landscapes.app.analyses.base import Analysis, Context, Replicates, at_least, knob

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

    from landscapes.app.analyses.base import SettingsView
    from landscapes.paths import Path

__all__ = ["Line", "LineSettings", "ZoomSettings", "normalised", "test_split", "training_split"]


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
