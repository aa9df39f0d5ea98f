"""Sharpness of each optimizer's solution (an extension of Im et al. 2016 §4.2).

Im et al. find the basins of Adam's solutions wider in absolute distance than SGD's
(Fig. 6, :mod:`~landscapes.app.analyses.basin`). A wider basin suggests a flatter
minimum; the Hessian says so directly. At the solution θ₁ of every optimizer of the
zoo, trained from the same init and minibatch order, this analysis measures λ_max,
the largest eigenvalue of H = ∇²J(θ₁) (sharpness), and tr H, on the first
``curvature_examples`` examples of each split (:mod:`landscapes.curvature`, as
:mod:`~landscapes.app.analyses.curvature` does along the lines).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from landscapes.app.analyses import zoo
from landscapes.app.analyses.base import Analysis, Context, Needs, Plan, Replicates, mean_std
from landscapes.app.analyses.curvature import PRODUCTS, CurvatureSettings
from landscapes.app.analyses.line import training_split
from landscapes.app.analyses.optimizers import diverged_text

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

    from landscapes.app.analyses.base import SettingsView


@dataclass(frozen=True)
class SharpnessSettings(CurvatureSettings, zoo.ZooSettings):
    """The zoo's optimizers, and how the curvature at their solutions is measured."""

    def __post_init__(self) -> None:
        CurvatureSettings.__post_init__(self)
        zoo.ZooSettings.__post_init__(self)


class Sharpness(Analysis):
    name = "sharpness"
    title = "sharpness of each optimizer's solution"
    description = ("Hessian lambda_max and trace at the solution of every optimizer of the "
                   "zoo, from one init (extension of Im et al. 2016 Fig. 6)")
    Settings = SharpnessSettings
    reads = ("splits",)
    needs = Needs(zoo=True)
    cost = 3.0 * PRODUCTS
    extension = True

    def grid(self, budget: SettingsView) -> np.ndarray:
        return np.zeros(1)

    def variants(self, config: Any, total: int, budget: SettingsView) -> list[dict[str, Any]]:
        return [zoo.changes(n) for n in budget.optimizers]

    def count_points(self, budget: SettingsView, plan: Plan) -> int:
        return len(budget.optimizers)

    def measure(self, reps: Replicates, budget: SettingsView) -> xr.Dataset:
        from landscapes.curvature import Spectrum
        from landscapes.engine.point_measures import OnExamples

        names = list(budget.optimizers)
        runs = {n: reps.variant(**zoo.changes(n)) for n in names}  # type: ignore[attr-defined]
        spectrum = OnExamples(Spectrum(k=1, which="largest", trace="hutch++",
                                       tol=budget.curvature_tol,
                                       trace_sketch=budget.curvature_sketch, seed=budget.seed),
                              budget.curvature_examples)
        info = {"optimizers": {n: vars(zoo.recipe(n)) for n in names},
                "curvature_examples": budget.curvature_examples}
        parts = []
        for r in range(reps.count):
            frame = zoo.Frame({"optimizer": names}, self.grid(budget), splits=budget.splits)
            for n in names:
                if runs[n].diverged(r):
                    continue
                ds = runs[n].evaluate(zoo.points({"final": runs[n].final(r)}, "at"), self.name,
                                      r, measures=[spectrum])
                one = ds[["loss", "error", "hessian_trace", "trace_stderr"]].assign(
                    top_eigenvalue=ds.top_eigenvalue.isel(eigen=0, drop=True))
                frame.put(one.isel(at=0, drop=True), optimizer=n)
            # α = 0 only: each solution is a point of its own (the results schema's path).
            out = frame.dataset(self.name, reps.system, info)
            parts.append(out.assign(diverged=("optimizer", [float(runs[n].diverged(r))
                                                            for n in names])))
        return reps.label(parts)

    # ------------------------------------------------------------------ reporting
    def rows(self, ds: xr.Dataset, context: Context) -> dict[str, str]:
        train = training_split(ds).isel(alpha=0)
        sharp = ", ".join(f"{zoo.label(str(n))} {mean_std(train.top_eigenvalue.sel(optimizer=n))}"
                          for n in ds.optimizer.values)
        trace = ", ".join(f"{zoo.label(str(n))} {mean_std(train.hessian_trace.sel(optimizer=n))}"
                          for n in ds.optimizer.values)
        return {"lambda_max at the solution (train)": sharp,
                "Hessian trace at the solution (train)": trace,
                "sharpness runs diverged": diverged_text(ds)}

    def panel(self, ax: Axes, ds: xr.Dataset, context: Context) -> None:
        """λ_max at each optimizer's solution, a dot per replicate (training split)."""
        one = ds.isel(system=0) if "system" in ds.dims else ds
        train = training_split(one).isel(alpha=0)
        for i, n in enumerate(one.optimizer.values):
            values = np.atleast_1d(train.top_eigenvalue.sel(optimizer=n).values)
            ax.plot(np.full(values.size, i), values, "o", color=f"C{i}")
        ax.set_xticks(range(one.sizes["optimizer"]),
                      [zoo.label(str(n)) for n in one.optimizer.values], rotation=45)
        ax.set_yscale("log")
        ax.set_ylabel("λ_max at the solution")


ANALYSIS = Sharpness()
