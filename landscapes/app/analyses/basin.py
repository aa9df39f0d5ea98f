"""The basin around each optimizer's solution in absolute distance (Im et al. 2016 §4.2).

Fig. 6: θ(λ) = θ₁ + λ·(θ₀ − θ₁)/‖θ₀ − θ₁‖, from the solution θ₁ towards the
initialisation θ₀ and past it, "the loss as a function of the absolute distance in
parameter space", so the basins of optimizers that travel different distances compare
in one unit. The ray is sampled at λ = α·‖θ₀ − θ₁‖ for a grid of α shared by every
optimizer on [−1, 2]: α = 0 is the solution, α = 1 the init, α = 2 as far past it, and
α = −1 the point as far beyond the solution on the other side -- so the same samples
give Fig. 10, the init → final line "up to α = 2" in its own parametrisation
(α_line = 1 − α), and Fig. 5(a, c), the relative basin shape. The dataset's ``alpha``
is this α; its ``distance`` coordinate is λ itself.

**Basin width** (the table's number, ``basin_width``): the first λ > 0 at which the
training loss has risen by more than the budget's ``basin_threshold`` above the
solution's own, J(λ) − J(0) > τ, interpolated linearly between grid points; ``inf``
when the ray leaves the window first. A rise above the solution's own loss, rather
than a fixed loss level, so that an optimizer whose solution sits higher (SGD after a
short run) is not charged for the height of its floor. Replicates are the paper's
"different initializations": Fig. 5 overlays them per optimizer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from landscapes import grids
from landscapes.app.analyses import zoo
from landscapes.app.analyses.base import (
    Analysis,
    Context,
    Needs,
    Plan,
    Replicates,
    knob,
    mean_std,
)
from landscapes.app.analyses.optimizers import OptimizersSettings, diverged_text

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

    from landscapes.app.analyses.base import SettingsView


@dataclass(frozen=True)
class BasinSettings(OptimizersSettings):
    """The zoo's rays and where a basin ends along them."""

    basin_threshold: float = knob(0.5, "rise of the training loss above the solution's that "
                                       "ends its basin along the ray to the init (Im et al. "
                                       "2016 Fig. 6)", "L")

    def __post_init__(self) -> None:
        OptimizersSettings.__post_init__(self)
        if not self.basin_threshold > 0:
            raise ValueError(f"basin_threshold must be positive, got {self.basin_threshold!r}")


class Basin(Analysis):
    name = "basin"
    title = "basin along the ray from the solution to the init"
    description = ("loss along theta_1 + lambda (theta_0 - theta_1)/|theta_0 - theta_1| past "
                   "the init, per optimizer, and the basin width (Im et al. 2016 Figs. 5, 6, "
                   "10)")
    Settings = BasinSettings
    reads = ("splits",)
    needs = Needs(zoo=True)
    #: α window: α = 0 the solution, α = 1 the init (λ = α·‖θ₀ − θ₁‖).
    window = (-1.0, 2.0)

    def grid(self, budget: SettingsView) -> np.ndarray:
        return grids.line(budget.points, *self.window)

    def variants(self, config: Any, total: int, budget: SettingsView) -> list[dict[str, Any]]:
        return [zoo.changes(n) for n in budget.optimizers]

    def count_points(self, budget: SettingsView, plan: Plan) -> int:
        return len(budget.optimizers) * len(self.grid(budget))

    def measure(self, reps: Replicates, budget: SettingsView) -> xr.Dataset:
        from landscapes import paths

        names = list(budget.optimizers)
        runs = {n: reps.variant(**zoo.changes(n)) for n in names}  # type: ignore[attr-defined]
        alpha = self.grid(budget)
        info = {"optimizers": {n: vars(zoo.recipe(n)) for n in names},
                "basin_threshold": budget.basin_threshold, "alpha": "lambda / |theta_0 - theta_1|"}
        parts = []
        for r in range(reps.count):
            init = reps.init(r)
            frame = zoo.Frame({"optimizer": names}, alpha, splits=budget.splits)
            norms = {}
            for n in names:
                final = runs[n].final(r)
                norms[n] = zoo.distance(final, init)
                if runs[n].diverged(r) or not norms[n] > 0:
                    continue
                path = paths.ray(final, init, alpha * norms[n], names=("final", "init"))
                frame.put(runs[n].evaluate(path, self.name, r), optimizer=n)
            ds = frame.dataset(self.name, reps.system, info)
            train = training_loss(ds)
            ds = ds.assign(
                init_distance=("optimizer", [norms[n] for n in names]),
                diverged=("optimizer", [float(runs[n].diverged(r)) for n in names]),
                basin_width=("optimizer", [
                    width(train.sel(optimizer=n).values, alpha, budget.basin_threshold)
                    * norms[n] for n in names]))
            parts.append(ds)
        out = reps.label(parts)
        out.basin_width.attrs.update(long_name="basin width", threshold=budget.basin_threshold)
        return out

    # ------------------------------------------------------------------ reporting
    def rows(self, ds: xr.Dataset, context: Context) -> dict[str, str]:
        threshold = ds.basin_width.attrs.get("threshold", "τ")
        widths = ", ".join(f"{zoo.label(str(n))} {mean_std(ds.basin_width.sel(optimizer=n))}"
                           for n in ds.optimizer.values)
        ratio = ", ".join(f"{zoo.label(str(n))} "
                          f"{mean_std(ds.basin_width.sel(optimizer=n) / ds.init_distance.sel(optimizer=n), '.2f')}"
                          for n in ds.optimizer.values)
        return {f"basin width (train loss +{threshold})": widths,
                "  as a share of |theta_0 - theta_1|": ratio,
                "same-optimizer curves / other-optimizer curves (RMS)":
                    mean_std(likeness(ds), ".2f"),
                "basin runs diverged": diverged_text(ds)}

    def panel(self, ax: Axes, ds: xr.Dataset, context: Context) -> None:
        """Fig. 6: training loss against λ, one colour per optimizer, a line per init."""
        one = ds.isel(system=0) if "system" in ds.dims else ds
        loss = training_loss(one)
        for i, n in enumerate(one.optimizer.values):
            for r in one.replicate.values:
                c = loss.sel(optimizer=n, replicate=r)
                lam = one.distance.sel(optimizer=n, replicate=r) if "replicate" in \
                    one.distance.dims else one.distance.sel(optimizer=n)
                ax.plot(lam, c, color=f"C{i}", lw=1,
                        label=zoo.label(str(n)) if r == one.replicate.values[0] else None)
        ax.axvline(0, color="0.8", lw=0.8, zorder=0)
        ax.set_xlabel("λ: distance from the solution towards the init")
        ax.set_ylabel("training loss")


def training_loss(ds: xr.Dataset) -> xr.DataArray:
    """The training split's loss (the paper's basins are training-loss basins), else the first."""
    if "split" not in ds.dims:
        return ds.loss
    return ds.loss.sel(split="train") if "train" in ds.split.values else ds.loss.isel(split=0)


def width(curve: np.ndarray, alpha: np.ndarray, threshold: float) -> float:
    """First α > 0 at which ``curve`` has risen more than ``threshold`` above its α = 0 value.

    Linear interpolation between the grid points around the crossing; ``inf`` when the
    curve never rises that far on the grid, NaN when it is not finite at α = 0.

    Examples
    --------
    >>> a = np.linspace(-1, 2, 7)          # -1, -0.5, 0, 0.5, 1, 1.5, 2
    >>> width(np.abs(a), a, 0.75)          # rises 0.5 by 0.5 and 1 by 1: crosses at 0.75
    0.75
    >>> width(np.zeros(7), a, 0.5)
    inf
    """
    curve, alpha = np.asarray(curve, dtype=float), np.asarray(alpha, dtype=float)
    at = int(np.argmin(np.abs(alpha)))
    j0 = curve[at]
    if not np.isfinite(j0):
        return float("nan")
    rise = curve[at:] - j0
    over = np.flatnonzero(~(rise <= threshold))  # NaN and inf count as over
    if over.size == 0:
        return float("inf")
    k = int(over[0])
    if k == 0:
        return 0.0
    lo, hi = alpha[at + k - 1], alpha[at + k]
    if not np.isfinite(rise[k]):
        return float(hi)
    return float(lo + (threshold - rise[k - 1]) / (rise[k] - rise[k - 1]) * (hi - lo))


def likeness(ds: xr.Dataset) -> xr.DataArray:
    """RMS difference of same-optimizer curves over that of different-optimizer ones.

    Per replicate pair (r, r') and optimizer o: the RMS over the α grid of
    J_{o,r} − J_{o,r'} (training loss, the whole window), against the mean over o' ≠ o
    of J_{o,r} − J_{o',r} within one init. Below 1, the curves of one optimizer from
    different inits are closer to each other than to other optimizers' from the same
    init: "the surfaces look strikingly similar for different runs of the same
    algorithm, but characteristically different for different algorithms" (§4.2).
    NaN with fewer than two replicates or optimizers.
    """
    loss = training_loss(ds)
    if "system" in loss.dims:
        loss = loss.isel(system=0)
    reps, names = list(loss.replicate.values), list(loss.optimizer.values)
    if len(reps) < 2 or len(names) < 2:
        return xr.DataArray(np.nan)

    def rms(x: xr.DataArray) -> float:
        return float(np.sqrt((x ** 2).mean("alpha")))

    same = [rms(loss.sel(replicate=a, optimizer=o) - loss.sel(replicate=b, optimizer=o))
            for o in names for i, a in enumerate(reps) for b in reps[i + 1:]]
    other = [rms(loss.sel(replicate=r, optimizer=o) - loss.sel(replicate=r, optimizer=p))
             for r in reps for i, o in enumerate(names) for p in names[i + 1:]]
    return xr.DataArray(np.nanmean(same) / np.nanmean(other))


ANALYSIS = Basin()
